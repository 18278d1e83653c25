//! vineyard-core: Vineyard's shared-memory object store, its IPC protocol, the `vineyardd`
//! server and a synchronous Rust client.
//!
//! With `default-features = false` this is the light client: [`id`], [`meta`], [`protocol`],
//! the [`meta_index`] reader, [`client`] and [`copy`], with no async runtime, command line or
//! etcd client. The `server` feature (on by default) adds [`store`], [`table`], [`cluster`]
//! and [`server`].
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
//! - [`file_io`]: files read into and written from memory in pieces, on several threads,
//!   CRC-32C on the way (spill files, local saves and loads).
//! - [`error`]: the crate's `Error` and Vineyard's status codes.
//! - `sys`: memfd, fd passing and page population (Linux).

#![warn(missing_docs)]

pub mod client;
#[cfg(feature = "server")]
pub mod cluster;
pub mod copy;
pub mod error;
#[cfg(feature = "server")]
pub mod file_io;
pub mod id;
pub mod meta;
pub mod meta_index;
pub mod protocol;
#[cfg(feature = "server")]
pub mod server;
pub mod size;
#[cfg(feature = "server")]
pub mod store;
mod sys;
#[cfg(feature = "server")]
pub mod table;

pub use client::{Blob, BlobWriter, IpcClient};
pub use copy::{copy_all, copy_bytes};
pub use error::{Code, Error, Result};
pub use id::{InstanceID, ObjectID, EMPTY_BLOB_ID};
pub use meta::ObjectMeta;
pub use protocol::InstanceStatus;
#[cfg(feature = "server")]
pub use server::{Server, ServerConfig, DEFAULT_SOCKET_MODE};
