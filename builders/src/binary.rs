//! `vineyard::BaseBinaryArray<arrow::StringArray>` (and `LargeStringArray`, `BinaryArray`,
//! `LargeBinaryArray`): offsets at their width in `buffer_offsets_`, bytes in `buffer_data_`;
//! `vineyard::FixedSizeBinaryArray`: `buffer_` and `byte_width_`.

use arrow::array::{Array, AsArray, GenericByteArray};
use arrow::datatypes::{
    BinaryType, ByteArrayType, DataType, LargeBinaryType, LargeUtf8Type, Utf8Type,
};
use vineyard_core::ObjectMeta;
use vineyard_layout::{binary_typename, ARROW_ARRAY, BASE_BINARY_ARRAY, FIXED_SIZE_BINARY_ARRAY};

use crate::buffer::{array_meta, create, offset_span, put_bytes, put_offsets, put_validity};
use crate::error::{Error, Result};
use crate::put::Put;
use crate::registry::{family_of, BuilderRegistry};

fn put_byte_array<T: ByteArrayType>(
    put: &Put,
    array: &GenericByteArray<T>,
    typename: &str,
) -> Result<ObjectMeta> {
    // A slice's offsets start past 0: store only its bytes, offsets rebased.
    let offsets = array.offsets();
    let (first, last) = offset_span(offsets);
    let mut meta = array_meta(typename, array);
    meta.add_member(BASE_BINARY_ARRAY.buffer_offsets, put_offsets(put, offsets)?);
    meta.add_member(
        BASE_BINARY_ARRAY.buffer_data,
        put_bytes(put, array.values().slice_with_length(first, last - first))?,
    );
    meta.add_member(ARROW_ARRAY.null_bitmap, put_validity(put, array.nulls())?);
    create(meta)
}

/// Strings and binaries with 32- or 64-bit offsets.
pub(crate) fn put_binary(_: &BuilderRegistry, put: &Put, array: &dyn Array) -> Result<ObjectMeta> {
    let data_type = array.data_type();
    let unsupported = || Error::UnsupportedType {
        data_type: data_type.clone(),
        family: family_of(data_type),
    };
    let typename = &binary_typename(data_type).ok_or_else(unsupported)?;
    match data_type {
        DataType::Utf8 => put_byte_array(put, array.as_bytes::<Utf8Type>(), typename),
        DataType::LargeUtf8 => put_byte_array(put, array.as_bytes::<LargeUtf8Type>(), typename),
        DataType::Binary => put_byte_array(put, array.as_bytes::<BinaryType>(), typename),
        DataType::LargeBinary => put_byte_array(put, array.as_bytes::<LargeBinaryType>(), typename),
        _ => Err(unsupported()),
    }
}

/// Fixed-width binaries.
pub(crate) fn put_fixed_size_binary(
    _: &BuilderRegistry,
    put: &Put,
    array: &dyn Array,
) -> Result<ObjectMeta> {
    let array = array.as_fixed_size_binary();
    let width = usize::try_from(array.value_length()).unwrap_or(0);
    let mut meta = array_meta(FIXED_SIZE_BINARY_ARRAY.typename, array);
    meta.insert(FIXED_SIZE_BINARY_ARRAY.byte_width, width);
    meta.add_member(
        FIXED_SIZE_BINARY_ARRAY.buffer,
        put_bytes(put, {
            let data = array.to_data();
            data.buffers()[0].slice_with_length(data.offset() * width, array.len() * width)
        })?,
    );
    meta.add_member(ARROW_ARRAY.null_bitmap, put_validity(put, array.nulls())?);
    create(meta)
}
