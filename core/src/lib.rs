//! vineyard-core: Vineyard's shared-memory object store, its IPC protocol, the `vineyardd`
//! server and a synchronous Rust client.
//!
//! # Layout
//! - [`id`]: `ObjectID` (`o` + 16 hex digits) and the id generator.
//! - [`meta`]: `ObjectMeta`, an object's metadata tree.
//! - [`meta_index`]: sealed objects' trees in shared memory, for `get` without a round trip.
//! - [`size`]: parsing `512Mi` / `4Gi` / `8G`.
//! - [`store`]: memfd arenas and the 64-byte-aligned offset allocator.
//! - [`table`]: the object table: blobs, objects, names, holds, deferred frees.
//! - [`protocol`]: Vineyard's wire format: frames, typed requests, payload descriptors.
//! - [`cluster`]: `MetaStore`, shared metadata between instances (in-process or etcd).
//! - [`server`]: the tokio IPC server behind `vineyardd`.
//! - [`client`]: `IpcClient`, `Blob`, `BlobWriter`.
//! - [`copy`]: copies into the store, split across threads when large.
//! - [`error`]: the crate's `Error` and Vineyard's status codes.
//! - `sys`: memfd, fd passing and page population (Linux).

pub mod client;
pub mod cluster;
pub mod copy;
pub mod error;
pub mod id;
pub mod meta;
pub mod meta_index;
pub mod protocol;
pub mod server;
pub mod size;
pub mod store;
mod sys;
pub mod table;

pub use client::{Blob, BlobWriter, InstanceStatus, IpcClient};
pub use copy::copy_bytes;
pub use error::{Code, Error, Result};
pub use id::{InstanceID, ObjectID, EMPTY_BLOB_ID};
pub use meta::ObjectMeta;
pub use server::{Server, ServerConfig, DEFAULT_SOCKET_MODE};
