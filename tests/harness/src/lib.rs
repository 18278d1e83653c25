//! The one test server of the workspace: a real vineyard instance on a temp socket, served
//! from a background thread with a tokio runtime of its own (so tests may run on a runtime
//! too), for the integration tests of vineyard-core, the builders, the resolvers and the
//! Flight service.
//!
//! ```no_run
//! use vineyard_test_harness::TestServer;
//!
//! let server = TestServer::builder().size(16 << 20).start();
//! let id = server.client().put_bytes(b"hello").unwrap();
//! # let _ = id;
//! server.stop(); // checks that it stopped cleanly and removed its socket
//! ```
//!
//! # Layout
//! - `builder`: [`TestServerBuilder`], what to start: size, config tweaks, a cluster, an RPC
//!   service beside the IPC server.
//! - `server`: [`TestServer`], starting on its own thread, clients, memory usage, `stop` and
//!   `crash`.
//! - `rpc`: the RPC service wrapped so that `stop` can check that it stopped cleanly too.

#![warn(missing_docs)]

mod builder;
mod rpc;
mod server;

pub use builder::TestServerBuilder;
pub use server::TestServer;

/// Shared memory of a test server unless its builder asks for another [`size`].
///
/// [`size`]: TestServerBuilder::size
pub const TEST_SIZE: u64 = 64 << 20;
