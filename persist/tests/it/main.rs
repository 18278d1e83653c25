//! Integration tests of vineyard-persist: real servers (`vineyard-test-harness`), real files
//! and the in-memory store.
//!
//! - `round_trip`: saves and loads of blobs, trees, tables and names; Arrow files beside them.
//! - `faults`: partial, corrupted and future saves fail clearly and leave nothing behind.

mod faults;
mod round_trip;
