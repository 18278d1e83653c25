//! `vineyard::NumericArray<T>`, `vineyard::BooleanArray` and `vineyard::NullArray`.
//!
//! Every array tree has [`ARROW_ARRAY`]'s `length_`, `null_count_`, `offset_` and the
//! `null_bitmap_` blob (empty when there are no nulls); `offset_` applies to every buffer, which
//! hold the whole parent array when the producer stored a slice.

use std::sync::Arc;

use arrow::array::{make_array, ArrayDataBuilder, NullArray};
use arrow::buffer::Buffer;
use arrow::datatypes::DataType;
use vineyard_core::ObjectMeta;

use crate::source::BlobSource;
use vineyard_layout::{
    decode_type, numeric_type_from_name, template_argument, ARROW_ARRAY, BOOLEAN_ARRAY,
    NUMERIC_ARRAY,
};

use crate::buffer::{bitmap, member_blobs};
use crate::error::{typename_of, Error, Result};
use crate::fields::{self, optional_str};
use crate::{Resolved, ResolverRegistry};

/// `length_` and `offset_` of an array tree.
pub(crate) struct Extent {
    pub length: usize,
    pub offset: usize,
}

impl Extent {
    pub(crate) fn of(meta: &ObjectMeta) -> Result<Extent> {
        Ok(Extent {
            length: fields::usize_field(meta, ARROW_ARRAY.length)?,
            offset: fields::optional_usize(meta, ARROW_ARRAY.offset)?.unwrap_or(0),
        })
    }

    /// Starts the array's data: type, length, offset, buffers and validity bitmap.
    pub(crate) fn builder(
        &self,
        data_type: DataType,
        buffers: Vec<Buffer>,
        nulls: Option<Buffer>,
    ) -> ArrayDataBuilder {
        ArrayDataBuilder::new(data_type)
            .len(self.length)
            .offset(self.offset)
            .buffers(buffers)
            .null_bit_buffer(nulls)
    }

    /// The array whose data is all in `buffers` and `nulls` (no children).
    pub(crate) fn array(
        &self,
        data_type: DataType,
        buffers: Vec<Buffer>,
        nulls: Option<Buffer>,
    ) -> Result<Resolved> {
        let data = self.builder(data_type, buffers, nulls).build()?;
        Ok(Resolved::Array(make_array(data)))
    }
}

/// The exact Arrow type from `arrow_type_`, if the tree has one.
pub(crate) fn arrow_type(meta: &ObjectMeta) -> Result<Option<DataType>> {
    match optional_str(meta, ARROW_ARRAY.arrow_type)? {
        Some(text) => decode_type(text)
            .map(Some)
            .map_err(|error| Error::invalid_field(meta, ARROW_ARRAY.arrow_type, error.to_string())),
        None => Ok(None),
    }
}

/// The blob members `names`, then the validity bitmap, as buffers.
pub(crate) fn buffers_and_bitmap(
    source: &dyn BlobSource,
    meta: &ObjectMeta,
    names: &[&str],
) -> Result<(Vec<Buffer>, Option<Buffer>)> {
    let mut wanted = names.to_vec();
    wanted.push(ARROW_ARRAY.null_bitmap);
    let mut blobs = member_blobs(source, meta, &wanted)?;
    let nulls = bitmap(source, blobs.pop().flatten());
    let buffers = blobs
        .into_iter()
        .zip(names)
        .map(|(blob, name)| {
            blob.map(|blob| source.buffer(blob))
                .ok_or_else(|| Error::MissingMember {
                    typename: typename_of(meta).into(),
                    id: meta.id(),
                    member: (*name).into(),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((buffers, nulls))
}

/// `vineyard::NumericArray<T>`: the `buffer_` blob; the type from `arrow_type_` or `T`.
pub(crate) fn resolve_numeric(
    _: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let data_type = match arrow_type(meta)? {
        Some(data_type) => data_type,
        None => template_argument(typename_of(meta))
            .and_then(numeric_type_from_name)
            .ok_or_else(|| {
                Error::unsupported_value(
                    meta,
                    "the element type inside `NumericArray<...>` is not one Arrow knows, \
                         and there is no `arrow_type_` to say it",
                )
            })?,
    };
    let extent = Extent::of(meta)?;
    let (buffers, nulls) = buffers_and_bitmap(source, meta, &[NUMERIC_ARRAY.buffer])?;
    extent.array(data_type, buffers, nulls)
}

/// `vineyard::BooleanArray`: bit-packed values in `buffer_`.
pub(crate) fn resolve_boolean(
    _: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let extent = Extent::of(meta)?;
    let (buffers, nulls) = buffers_and_bitmap(source, meta, &[BOOLEAN_ARRAY.buffer])?;
    extent.array(DataType::Boolean, buffers, nulls)
}

/// `vineyard::NullArray`: `length_` nulls, no buffers.
pub(crate) fn resolve_null(
    _: &ResolverRegistry,
    _: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let length = fields::usize_field(meta, ARROW_ARRAY.length)?;
    Ok(Resolved::Array(Arc::new(NullArray::new(length))))
}
