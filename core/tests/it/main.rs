//! Integration tests of vineyard-core: real servers on temp sockets, the synchronous client,
//! and hand-written frames.
//!
//! # Layout
//! `TestServer`, a real server on a temp socket, comes from `vineyard-test-harness`
//! (tests/harness).
//!
//! - `raw_frames`: `RawConnection`, frames written by hand over a plain `UnixStream`.
//! - `read_only`: readers hold the store and the index read-only; their writes fault.
//! - `blobs`: create, write, seal, get, abort; empty and missing blobs.
//! - `refcounts`: held blobs survive deletes; releases and disconnects free them.
//! - `pipelining`: `get_objects` in one round trip; unawaited releases and seals.
//! - `reserved_ids`: objects created without waiting, under ids their client reserved.
//! - `connections`: what a dropped connection leaves behind (nothing).
//! - `meta_index`: `get` from the metadata index; memory found there is not reused under it.
//! - `limits`: metadata per object and in all, names, members, request sizes are bounded.
//! - `memory`: `NotEnoughMemory` and reuse of freed memory.
//! - `spill`: a full store spills cold blobs to `--spill_path` and reads them back.
//! - `ownership`: only a buffer's writer seals, shrinks or drops it; any interleaving keeps
//!   sealed blobs unchanged.
//! - `metadata`: trees, members, list, delete rules, persist, names, clear.
//! - `validation`: malformed requests get clear error replies.
//! - `frame_fuzz`: property tests of arbitrary frame bodies against a live server.
//! - `concurrency`: many clients at once.
//! - `server`: bind errors, stale sockets, shutdown; the socket never exists with a wider mode.
//! - `fd_limit`: at the open-file limit clients are refused clearly, the server does not spin.
//! - `etcd`: `EtcdProcess`, a real etcd on free loopback ports.
//! - `cluster`: the `MetaStore` conformance suite and instances sharing a real etcd.

mod blobs;
mod cluster;
mod concurrency;
mod connections;
mod etcd;
mod fd_limit;
mod frame_fuzz;
mod limits;
mod memory;
mod meta_index;
mod metadata;
mod ownership;
mod pipelining;
mod raw_frames;
mod read_only;
mod refcounts;
mod reserved_ids;
mod server;
mod spill;
mod validation;
