//! vineyard-flight-server: Arrow Flight over a vineyard instance, for readers and writers on
//! other machines and for moving blobs between instances.
//!
//! `vineyardd` (this crate's binary) and `python -m vineyard` serve [`FlightService`] beside
//! the IPC server: it binds a TCP port, reaches its own instance through an `IpcClient` on the
//! instance's UNIX socket, and streams objects as Arrow record batches built over the shared
//! memory. [`RemoteClient`] is the matching Rust client.
//!
//! # Layout
//! - [`service`]: `FlightService`, the `RpcService` that binds, serves and shuts down.
//! - `do_get`: `DoGet` answered below tonic, the shared-memory buffers handed to HTTP/2 as
//!   they are (no copy); every other call passes on to `handler`.
//! - `handler`: the arrow-flight `FlightService` trait, one method per call, dispatching below.
//! - `instance`: a small pool of `IpcClient`s to the instance, used from blocking tasks.
//! - [`target`]: what tickets and descriptors name: an object id, a name, a blob.
//! - `objects`: reading an object as a schema plus record batches; describing it as a flight.
//! - `encode`: record batches to `FlightData`, straight from the shared-memory buffers.
//! - `put`: `do_put` streams into `vineyard::Table` objects (or blobs).
//! - `put_objects`: `do_put` of any objects: blobs' bytes in chunks and metadata trees, all or
//!   nothing (how remote clients put values of every type).
//! - [`actions`]: the `do_action` calls and their JSON bodies.
//! - `auth`: the optional bearer token.
//! - `heap`: freed heap returned to the system after large puts and deletes.
//! - `limits`: `--rpc_max_columns`, `--rpc_max_message_size`.
//! - `route`: one port for Flight and Vineyard's RPC protocol, told apart by the first bytes.
//! - `vineyard_rpc`: Vineyard's own RPC protocol (its pip client's `connect(host, port)`).
//! - `tls`: serving TLS (`--rpc_tls_cert`), refusing plain-text clients with a clear error.
//! - `sql_route`: which calls are Flight SQL's (commands in an `Any`, CamelCase actions).
//! - [`sql`] (feature `sql`, default): Flight SQL over the instance with `vineyard-sql`;
//!   [`sql::FlightReader`], parts of global tables read from their owners.
//! - [`client`]: `RemoteClient`, over arrow-flight's `FlightClient`.
//! - [`error`]: the crate's `Error` and its `tonic::Status` mapping.

#![warn(missing_docs)]

pub mod actions;
mod auth;
pub mod client;
mod counted;
mod direct;
mod do_get;
mod do_put;
mod encode;
pub mod error;
mod grpc;
mod handler;
mod heap;
mod instance;
mod limits;
mod objects;
mod put;
mod put_objects;
mod route;
pub mod service;
#[cfg(feature = "sql")]
pub mod sql;
mod sql_route;
pub mod target;
mod tls;
mod vineyard_rpc;

pub use client::RemoteClient;
pub use error::{Error, Result};
pub use service::FlightService;
