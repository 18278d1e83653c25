//! `vineyard::BaseBinaryArray<arrow::StringArray>` (and `LargeStringArray`, `BinaryArray`,
//! `LargeBinaryArray`): `buffer_offsets_` at their width and `buffer_data_`;
//! `vineyard::FixedSizeBinaryArray` (decimals too): `buffer_` and `byte_width_`.

use arrow::array::new_empty_array;
use arrow::datatypes::DataType;
use vineyard_core::ObjectMeta;

use crate::source::BlobSource;
use vineyard_layout::{binary_type_from_typename, BASE_BINARY_ARRAY, FIXED_SIZE_BINARY_ARRAY};

use crate::error::{typename_of, Error, Result};
use crate::fields;
use crate::primitive::{arrow_type, buffers_and_bitmap, Extent};
use crate::{Resolved, ResolverRegistry};

/// Strings and binaries with 32- or 64-bit offsets.
pub(crate) fn resolve_binary(
    _: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let data_type = match arrow_type(meta)? {
        Some(data_type) => data_type,
        None => binary_type_from_typename(typename_of(meta)).ok_or_else(|| {
            Error::unsupported_value(
                meta,
                "the typename names no string or binary array Arrow knows",
            )
        })?,
    };
    let extent = Extent::of(meta)?;
    let (buffers, nulls) = buffers_and_bitmap(
        source,
        meta,
        &[
            BASE_BINARY_ARRAY.buffer_offsets,
            BASE_BINARY_ARRAY.buffer_data,
        ],
    )?;
    // pyarrow may store an empty array with no offsets at all.
    if extent.length == 0 && extent.offset == 0 && buffers[0].is_empty() {
        return Ok(Resolved::Array(new_empty_array(&data_type)));
    }
    extent.array(data_type, buffers, nulls)
}

/// Fixed-width binaries; `arrow_type_` says when they are decimals.
pub(crate) fn resolve_fixed_size_binary(
    _: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let data_type = match arrow_type(meta)? {
        Some(data_type) => data_type,
        None => {
            let field = FIXED_SIZE_BINARY_ARRAY.byte_width;
            let width = fields::usize_field(meta, field)?;
            let width = i32::try_from(width)
                .map_err(|_| Error::invalid_field(meta, field, format!("{width} is too wide")))?;
            DataType::FixedSizeBinary(width)
        }
    };
    let extent = Extent::of(meta)?;
    let (buffers, nulls) = buffers_and_bitmap(source, meta, &[FIXED_SIZE_BINARY_ARRAY.buffer])?;
    extent.array(data_type, buffers, nulls)
}
