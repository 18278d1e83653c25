//! Integration tests of vineyard-builders: Arrow values put into a real server and resolved
//! back with vineyard-resolvers.
//!
//! # Layout
//! - `TestServer` comes from `vineyard-test-harness` (tests/harness).
//! - `arrays`: every supported type with nulls, slices and empty arrays; the trees written.
//! - `tables`: record batches and tables, schemas, mismatched batches.
//! - `tensors`: C and Fortran order, dtypes, invalid tensors.
//! - `zero_copy`: resolved buffers are the blobs' memory and keep them alive.
//! - `put`: a put undone when the server refuses it, large buffers, reused blobs.
//! - `registry`: user builders and unsupported types.
//! - `layout`: every tree written is spelled as the `vineyard-layout` table says.

mod arrays;
mod layout;
mod put;
mod registry;
mod tables;
mod tensors;
mod zero_copy;

use arrow::array::{Array, ArrayRef};
use vineyard_core::{IpcClient, ObjectMeta};

/// Puts `array`, reads its tree back from the server and resolves it.
pub fn round_trip(client: &IpcClient, array: &dyn Array) -> (ObjectMeta, ArrayRef) {
    let created = vineyard_builders::put_array(client, array).expect("put");
    let stored = client
        .get_metadata(created.id().expect("created trees have an id"))
        .expect("get_metadata");
    let resolved = vineyard_resolvers::resolve_array(client, &stored).expect("resolve");
    (stored, resolved)
}
