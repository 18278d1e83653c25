//! Vineyard's IPC wire protocol: framing, typed requests and replies, and the blob payload
//! descriptor.

pub mod fields;
pub mod frame;
mod hex;
mod payload;
pub mod reply;
mod request;

pub use payload::{Payload, MAP_SIZE_SLACK};
pub use reply::{ErrorReply, InstanceStatus, Reply};
pub use request::{Pattern, Request, PROTOCOL_VERSION};
