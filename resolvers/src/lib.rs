//! vineyard-resolvers: vineyard objects as Arrow arrays, record batches, tables and tensors
//! whose buffers point into the shared memory (nothing is copied).
//!
//! The layouts are the Python package's (`vineyard.data.arrow`, `.tensor`, `.dataframe`), so
//! objects put from Python resolve here, and objects put by `vineyard-builders` resolve there.
//! Each Arrow [`Buffer`](arrow::buffer::Buffer) owns the [`Blob`](vineyard_core::Blob) it
//! views, which keeps the mapping and the server-side hold alive.
//!
//! # Layout
//! - [`registry`]: `ResolverRegistry`, resolvers keyed by typename prefix, and the default one.
//! - [`resolved`]: `Resolved`, what a resolver gives, and `to_record_batches` for streaming.
//! - [`layout`]: `vineyard-layout` re-exported, the contract shared with the builders and the
//!   Python package: typenames, member and field names, `arrow_type_` and schema encodings,
//!   numpy dtypes, [`Tensor`].
//! - [`buffer`]: Arrow buffers over blobs.
//! - [`source`]: [`BlobSource`], where the blobs come from: the client, or [`FetchedBlobs`]
//!   mapped by the round trip that fetched the tree.
//! - `primitive`: `NumericArray<T>`, `BooleanArray`, `NullArray`.
//! - `binary`: `BaseBinaryArray<...>`, `FixedSizeBinaryArray` (and decimals).
//! - `nested`: `ListArray`, `LargeListArray`, `StructArray`, `DictionaryArray`,
//!   `ChunkedArray`.
//! - `table`: `SchemaProxy`, `RecordBatch`, `Table`.
//! - [`tensor`]: `Tensor<T>` and `Array` (numpy) as [`Tensor`]s.
//! - `pandas`: `DataFrame`, `Series`, `Index`, `RangeIndex`.
//! - `fields`: reading plain fields and members of a tree.
//! - [`error`]: the crate's `Error`.

#![warn(missing_docs)]

mod binary;
pub mod buffer;
pub mod error;
mod fields;
mod nested;
mod pandas;
mod primitive;
pub mod registry;
pub mod resolved;
pub mod source;
mod table;
pub mod tensor;

use arrow::array::ArrayRef;
use vineyard_core::ObjectMeta;

pub use buffer::blob_buffer;
pub use error::{Error, Result};
pub use registry::{arrow_prefixes, default_registry, Resolver, ResolverRegistry};
pub use resolved::{to_record_batches, Resolved};
pub use source::{blob_ids, BlobSource, FetchedBlobs};
pub use table::table_shape;
pub use tensor::Tensor;
/// The layout table the resolvers read by (`vineyard-layout`): typenames, member and field
/// names, and the spelling of Arrow and numpy types in trees.
pub use vineyard_layout as layout;

/// Resolves an object with the default registry; `source` is the client (or blobs fetched
/// with the tree, [`FetchedBlobs`]).
pub fn resolve(source: &dyn BlobSource, meta: &ObjectMeta) -> Result<Resolved> {
    default_registry().resolve(source, meta)
}

/// Resolves an array-shaped object with the default registry (see
/// [`ResolverRegistry::resolve_array`]).
pub fn resolve_array(source: &dyn BlobSource, meta: &ObjectMeta) -> Result<ArrayRef> {
    default_registry().resolve_array(source, meta)
}
