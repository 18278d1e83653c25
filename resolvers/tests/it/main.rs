//! Integration tests of vineyard-resolvers: trees laid out by hand as the Python package (and
//! Vineyard's C++) writes them, resolved from a real server.
//!
//! # Layout
//! - `TestServer` comes from `vineyard-test-harness` (tests/harness).
//! - `arrays`: numeric, boolean, binary, nested and chunked arrays, with `offset_` slices,
//!   legacy typenames and fields spelled as text.
//! - `tensors`: `vineyard::Tensor<T>` and `vineyard::Array`, C and Fortran order, unsupported
//!   dtypes.
//! - `pandas`: DataFrames, Series and indexes as the Python package stores them.
//! - `registry`: prefix matching, user resolvers, errors, blobs, `to_record_batches`.
//! - `source`: resolving from the blobs fetched with the tree (`FetchedBlobs`).

mod arrays;
mod pandas;
mod registry;
mod source;
mod tensors;

use serde_json::{json, Value};
use vineyard_core::{IpcClient, ObjectMeta, EMPTY_BLOB_ID};

/// A sealed blob holding `bytes`, as the member tree the Python package writes.
pub fn blob(client: &IpcClient, bytes: &[u8]) -> ObjectMeta {
    let id = if bytes.is_empty() {
        EMPTY_BLOB_ID
    } else {
        client.put_bytes(bytes).expect("put_bytes")
    };
    ObjectMeta::from_json(json!({
        "id": id.to_string(),
        "instance_id": client.instance_id(),
        "length": bytes.len(),
        "nbytes": bytes.len(),
        "transient": true,
        "typename": "vineyard::Blob",
    }))
    .unwrap()
}

/// A tree of `typename` with plain `fields` and `members`, created on the server and read
/// back (members expanded, as a reader sees it).
pub fn create(
    client: &IpcClient,
    typename: &str,
    fields: Value,
    members: Vec<(&str, ObjectMeta)>,
) -> ObjectMeta {
    let mut meta = ObjectMeta::with_typename(typename);
    for (key, value) in fields.as_object().expect("fields are a JSON object") {
        meta.insert(key, value.clone());
    }
    for (name, member) in members {
        meta.add_member(name, member);
    }
    let created = client.create_metadata(&meta).expect("create_metadata");
    client
        .get_metadata(created.id().unwrap())
        .expect("get_metadata")
}

/// Little-endian bytes of `values`.
pub fn le_bytes<const N: usize, T: Copy>(values: &[T], to_bytes: fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|value| to_bytes(*value)).collect()
}
