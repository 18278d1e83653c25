//! Integration tests of vineyard-core: real servers on temp sockets, the synchronous client,
//! and hand-written frames.
//!
//! # Layout
//! `TestServer`, a real server on a temp socket, comes from `vineyard-test-harness`
//! (tests/harness).
//!
//! - `raw_frames`: `RawConnection`, frames written by hand over a plain `UnixStream`.
//! - `blobs`: create, write, seal, get, abort; empty and missing blobs.
//! - `refcounts`: held blobs survive deletes; releases and disconnects free them.
//! - `pipelining`: `get_objects` in one round trip; unawaited releases and seals.
//! - `reserved_ids`: objects created without waiting, under ids their client reserved.
//! - `connections`: what a dropped connection leaves behind (nothing).
//! - `meta_index`: `get` from the metadata index; memory found there is not reused under it.
//! - `memory`: `NotEnoughMemory` and reuse of freed memory.
//! - `metadata`: trees, members, list, delete rules, persist, names, clear.
//! - `validation`: malformed requests get clear error replies.
//! - `frame_fuzz`: property tests of arbitrary frame bodies against a live server.
//! - `concurrency`: many clients at once.
//! - `server`: bind errors, stale sockets, shutdown.
//! - `etcd`: `EtcdProcess`, a real etcd on free loopback ports.
//! - `cluster`: the `MetaStore` conformance suite and instances sharing a real etcd.

mod blobs;
mod cluster;
mod concurrency;
mod connections;
mod etcd;
mod frame_fuzz;
mod memory;
mod meta_index;
mod metadata;
mod pipelining;
mod raw_frames;
mod refcounts;
mod reserved_ids;
mod server;
mod validation;
