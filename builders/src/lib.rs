//! vineyard-builders: Arrow arrays, record batches, tables and tensors put into vineyard as
//! blobs plus metadata, in the layouts `vineyard-layout` defines (those of the Python package's
//! `vineyard.data.arrow` and `.tensor`), so that `vineyard-resolvers` and Python read them back
//! without a copy.
//!
//! Each Arrow buffer is copied once, straight into a new blob; the copies of one put run
//! together, spread over threads, and its objects are created without waiting for the server
//! but once at the end (see [`Put`]). Slices are stored compacted:
//! only the slice's values, offsets rebased to 0, bitmaps starting at bit 0, `offset_` 0.
//! Absent validity bitmaps are the empty blob.
//!
//! # Layout
//! - [`registry`]: `BuilderRegistry`, builders keyed by type family, and the default one.
//! - [`put`]: `Put`, one put's writes: buffers copied together, objects created without
//!   waiting, and everything undone if the put fails.
//! - [`buffer`]: blobs from buffers, bitmaps and offsets; the blob member tree.
//! - `primitive`: `NumericArray<T>`, decimals, `BooleanArray`, `NullArray`.
//! - `binary`: `BaseBinaryArray<...>`, `FixedSizeBinaryArray`.
//! - `nested`: `ListArray`, `LargeListArray`, `StructArray`, `DictionaryArray`.
//! - `table`: `SchemaProxy`, `RecordBatch`, `Table`.
//! - `tensor`: `Tensor<T>`.
//! - [`error`]: the crate's `Error`.

#![warn(missing_docs)]

mod binary;
pub mod buffer;
pub mod error;
mod nested;
mod primitive;
pub mod put;
pub mod registry;
mod table;
mod tensor;

use arrow::array::Array;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use vineyard_core::{IpcClient, ObjectMeta};

pub use error::{Error, Result};
pub use put::Put;
pub use registry::{default_registry, family_of, Builder, BuilderRegistry};
pub use table::TableWriter;
pub use tensor::put_tensor;
/// The value [`put_tensor`] stores (from `vineyard-layout`, which `vineyard-resolvers` shares).
pub use vineyard_layout::Tensor;

/// Puts an array with the default registry; returns the created tree (id set).
pub fn put_array(client: &IpcClient, array: &dyn Array) -> Result<ObjectMeta> {
    default_registry().put_array(client, array)
}

/// Puts a record batch with the default registry; returns the created tree.
pub fn put_record_batch(client: &IpcClient, batch: &RecordBatch) -> Result<ObjectMeta> {
    default_registry().put_record_batch(client, batch)
}

/// Puts batches sharing `schema` as one `vineyard::Table` (a batch with other fields is an
/// error); returns the created tree.
pub fn put_table(
    client: &IpcClient,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<ObjectMeta> {
    default_registry().put_table(client, schema, batches)
}
