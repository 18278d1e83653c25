//! Vineyard's IPC wire protocol: framing, typed requests, and the blob payload descriptor.

pub mod fields;
pub mod frame;
mod hex;
mod payload;
mod request;

pub use payload::Payload;
pub use request::{Pattern, Request, PROTOCOL_VERSION};
