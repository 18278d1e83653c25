//! Vineyard's own RPC protocol, served on the Flight port beside Arrow Flight.
//!
//! Vineyard 0.24.2's remote client (`vineyard.connect(host, port)` of the pip package, its
//! C++ `RPCClient`) speaks the IPC protocol's JSON frames over TCP (8-byte little-endian
//! length, then the JSON body), with blob bytes travelling inline after three requests of its
//! own instead of as fds:
//!
//! - `create_remote_buffer_request` (`size`, `compress`) and `create_remote_buffers_request`
//!   (`sizes`, `compress`): the server allocates and answers `create_buffer(s)_reply` ("go
//!   on"), the client sends the bytes of each blob in order, and the server answers the same
//!   reply again once they are stored (an error reply, and nothing kept, if they are not);
//! - `get_remote_buffers_request` (`num`, `"0"`.., `compress`): the server answers
//!   `get_buffers_reply` and then sends the bytes of each blob in the order of its `payloads`;
//! - with `compress` (offered by `support_rpc_compression` in `register_reply`), the bytes of
//!   each blob are zstd chunks, each an 8-byte length and the compressed bytes, of one zstd
//!   stream per request that is flushed at the end of every blob (see `transfer`).
//!
//! Everything else is the IPC protocol: this module forwards each other request to its own
//! instance over one UNIX connection per RPC connection (`forward`), so the instance's own
//! request handling answers it, and sends the reply back. Requests whose replies carry file
//! descriptors cannot cross TCP and are refused with a message naming the remote request to
//! use instead. How a connection is told from a Flight one is `sniff`'s.
//!
//! What is ours, not Vineyard's: the one port for both protocols; with `--rpc_token`, the
//! register request's `password` must be the token; with TLS, Vineyard's clients (which have
//! no TLS) are refused with an error reply.

mod connection;
mod forward;
pub(crate) mod sniff;
mod transfer;

pub(crate) use connection::{refuse, serve, RpcContext};
