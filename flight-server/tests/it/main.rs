//! Integration tests of the Flight service: a real instance (IPC server and Flight service)
//! on a temp socket and a free loopback port; clients over real TCP.
//!
//! # Layout
//! - `fixture`: Flight instances (the workspace's `TestServer` with `FlightService`) and
//!   the Flight clients that reach them.
//! - `data`: sample batches of every Arrow type the builders handle, with nulls.
//! - `get`: `do_get` round trips: tables, batches, arrays, slices, tensors, blobs, empty.
//! - `put`: `do_put` into tables and blobs; malformed streams leave nothing behind.
//! - `errors`: bad tickets, unknown ids and names, objects that are not Arrow-shaped.
//! - `list`: `list_flights` filters, `get_flight_info`, `get_schema`.
//! - `actions`: the `do_action` set and `list_actions`.
//! - `auth`: missing, wrong and right tokens.
//! - `limits`: `--rpc_max_columns` and `--rpc_max_message_size`.
//! - `served`: `ServedFlight`, a second Flight service with options of the test's choosing.
//! - `tls`: Flight over TLS: trusted clients, the token, plain-text clients refused.
//! - `sql` (feature `sql`): Flight SQL with arrow-flight's client: statements, prepared
//!   statements, metadata, failures, global tables.
//! - `rollback`: a put that fails while storing (store full, cancelled) leaves nothing.
//! - `service`: binding (taken ports, announced endpoints) and shutdown.
//! - `vineyard_rpc`: Vineyard's own RPC protocol on the same port, bad frames, and the
//!   all-or-nothing `do_put` of objects that remote clients put values with.

mod actions;
mod auth;
mod data;
mod errors;
mod fixture;
mod get;
mod limits;
mod list;
mod put;
mod rollback;
mod served;
mod service;
#[cfg(feature = "sql")]
mod sql;
mod tls;
mod vineyard_rpc;
