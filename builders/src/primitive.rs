//! `vineyard::NumericArray<T>` (integers, floats, dates, times, timestamps, durations),
//! `vineyard::FixedSizeBinaryArray` for decimals, `vineyard::BooleanArray` and
//! `vineyard::NullArray`.

use arrow::array::Array;
use arrow::buffer::BooleanBuffer;
use vineyard_core::ObjectMeta;
use vineyard_layout::{
    encode_type, is_plain_numeric, numeric_type_name, ARROW_ARRAY, BOOLEAN_ARRAY,
    FIXED_SIZE_BINARY_ARRAY, NULL_ARRAY, NUMERIC_ARRAY,
};

use crate::buffer::{array_meta, create, put_bits, put_bytes, put_validity};
use crate::error::{Error, Result};
use crate::put::Put;
use crate::registry::{family_of, BuilderRegistry};

/// A fixed-width array's values, from its first element to its last (no copy).
fn values_bytes(array: &dyn Array, width: usize) -> arrow::buffer::Buffer {
    let data = array.to_data();
    data.buffers()[0].slice_with_length(data.offset() * width, data.len() * width)
}

/// Numeric arrays: the values in `buffer_`; `arrow_type_` when the typename does not say all.
pub(crate) fn put_numeric(_: &BuilderRegistry, put: &Put, array: &dyn Array) -> Result<ObjectMeta> {
    let data_type = array.data_type();
    let (Some(name), Some(width)) = (numeric_type_name(data_type), data_type.primitive_width())
    else {
        return Err(Error::UnsupportedType {
            data_type: data_type.clone(),
            family: family_of(data_type),
        });
    };
    let mut meta = array_meta(&NUMERIC_ARRAY.of(&name), array);
    if !is_plain_numeric(data_type) {
        meta.insert(ARROW_ARRAY.arrow_type, encode_type(data_type)?);
    }
    meta.add_member(
        NUMERIC_ARRAY.buffer,
        put_bytes(put, values_bytes(array, width))?,
    );
    meta.add_member(ARROW_ARRAY.null_bitmap, put_validity(put, array.nulls())?);
    create(meta)
}

/// Decimals, stored as pyarrow does: fixed-size binaries whose `arrow_type_` says decimal.
pub(crate) fn put_decimal(_: &BuilderRegistry, put: &Put, array: &dyn Array) -> Result<ObjectMeta> {
    let data_type = array.data_type();
    let Some(width) = data_type.primitive_width() else {
        return Err(Error::UnsupportedType {
            data_type: data_type.clone(),
            family: family_of(data_type),
        });
    };
    let mut meta = array_meta(FIXED_SIZE_BINARY_ARRAY.typename, array);
    meta.insert(FIXED_SIZE_BINARY_ARRAY.byte_width, width);
    meta.insert(ARROW_ARRAY.arrow_type, encode_type(data_type)?);
    meta.add_member(
        FIXED_SIZE_BINARY_ARRAY.buffer,
        put_bytes(put, values_bytes(array, width))?,
    );
    meta.add_member(ARROW_ARRAY.null_bitmap, put_validity(put, array.nulls())?);
    create(meta)
}

/// Booleans: bit-packed values in `buffer_`.
pub(crate) fn put_boolean(_: &BuilderRegistry, put: &Put, array: &dyn Array) -> Result<ObjectMeta> {
    let data = array.to_data();
    let bits = BooleanBuffer::new(data.buffers()[0].clone(), data.offset(), data.len());
    let mut meta = array_meta(BOOLEAN_ARRAY.typename, array);
    meta.add_member(BOOLEAN_ARRAY.buffer, put_bits(put, &bits)?);
    meta.add_member(ARROW_ARRAY.null_bitmap, put_validity(put, array.nulls())?);
    create(meta)
}

/// Nulls: only `length_`.
pub(crate) fn put_null(_: &BuilderRegistry, _: &Put, array: &dyn Array) -> Result<ObjectMeta> {
    let mut meta = ObjectMeta::with_typename(NULL_ARRAY.typename);
    meta.insert(ARROW_ARRAY.length, array.len());
    meta.set_nbytes(0);
    create(meta)
}
