//! The crate's one error type.

use arrow::datatypes::{DataType, SchemaRef};
use arrow::error::ArrowError;

/// Why a value could not be put.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No builder is registered for the array's type family.
    #[error(
        "no builder for Arrow type {data_type} (family `{family}`); cast the array to a \
         supported type or register a builder with `BuilderRegistry::register`"
    )]
    UnsupportedType {
        /// The array's type.
        data_type: DataType,
        /// Its family, the key builders are registered under.
        family: &'static str,
    },
    /// A batch of a table does not have the table's schema.
    #[error(
        "batch {index} of the table has the fields {found:?}, the table's schema has \
         {expected:?}; cast the batch to the table's schema"
    )]
    SchemaMismatch {
        /// The batch's position.
        index: usize,
        /// The table's schema.
        expected: SchemaRef,
        /// The batch's schema.
        found: SchemaRef,
    },
    /// A chunk of a chunked array does not have the chunked array's type.
    #[error(
        "chunk {index} of the chunked array is of type {found}, the chunked array's is \
         {expected}; cast the chunk to the chunked array's type"
    )]
    ChunkTypeMismatch {
        /// The chunk's position.
        index: usize,
        /// The chunked array's type.
        expected: DataType,
        /// The chunk's type.
        found: DataType,
    },
    /// A tensor's shape, type and values do not agree.
    #[error("invalid tensor: {reason}")]
    InvalidTensor {
        /// What is wrong.
        reason: String,
    },
    /// The store failed (out of memory, lost connection, ...).
    #[error(transparent)]
    Core(#[from] vineyard_core::Error),
    /// Arrow could not encode a type or a schema.
    #[error("arrow failed: {0}")]
    Arrow(#[from] ArrowError),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
