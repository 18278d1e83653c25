//! Arrays with children: `vineyard::ListArray` / `vineyard::LargeListArray`,
//! `vineyard::StructArray`, `vineyard::DictionaryArray` and `vineyard::ChunkedArray`. Children go back through the
//! registry, so user builders apply inside nested arrays too.

use arrow::array::{Array, ArrayRef, AsArray, GenericListArray, OffsetSizeTrait};
use arrow::datatypes::DataType;
use vineyard_core::ObjectMeta;
use vineyard_layout::{
    encode_type, ARROW_ARRAY, CHUNKED_ARRAY, DICTIONARY_ARRAY, LARGE_LIST_ARRAY, LIST_ARRAY,
    STRUCT_ARRAY,
};

use crate::buffer::{array_meta, create, offset_span, put_offsets, put_validity};
use crate::error::{Error, Result};
use crate::put::Put;
use crate::registry::{family_of, BuilderRegistry};

/// A list layout's typename and member names: [`LIST_ARRAY`]'s or [`LARGE_LIST_ARRAY`]'s.
struct ListNames {
    typename: &'static str,
    buffer_offsets: &'static str,
    values: &'static str,
}

fn put_list_array<O: OffsetSizeTrait>(
    registry: &BuilderRegistry,
    put: &Put,
    array: &GenericListArray<O>,
    names: ListNames,
) -> Result<ObjectMeta> {
    // A slice's offsets start past 0: store only its items, offsets rebased.
    let offsets = array.offsets();
    let (first, last) = offset_span(offsets);
    let values = array.values().slice(first, last - first);
    let mut meta = array_meta(names.typename, array);
    meta.insert(ARROW_ARRAY.arrow_type, encode_type(array.data_type())?);
    meta.add_member(ARROW_ARRAY.null_bitmap, put_validity(put, array.nulls())?);
    meta.add_member(names.buffer_offsets, put_offsets(put, offsets)?);
    meta.add_member(names.values, registry.build_array(put, values.as_ref())?);
    create(meta)
}

/// Lists with 32- or 64-bit offsets; `arrow_type_` keeps the item field.
pub(crate) fn put_list(
    registry: &BuilderRegistry,
    put: &Put,
    array: &dyn Array,
) -> Result<ObjectMeta> {
    match array.data_type() {
        DataType::List(_) => {
            let names = ListNames {
                typename: LIST_ARRAY.typename,
                buffer_offsets: LIST_ARRAY.buffer_offsets,
                values: LIST_ARRAY.values,
            };
            put_list_array(registry, put, array.as_list::<i32>(), names)
        }
        DataType::LargeList(_) => {
            let names = ListNames {
                typename: LARGE_LIST_ARRAY.typename,
                buffer_offsets: LARGE_LIST_ARRAY.buffer_offsets,
                values: LARGE_LIST_ARRAY.values,
            };
            put_list_array(registry, put, array.as_list::<i64>(), names)
        }
        other => Err(Error::UnsupportedType {
            data_type: other.clone(),
            family: family_of(other),
        }),
    }
}

/// Structs: the validity bitmap and one child per field (children are already sliced).
pub(crate) fn put_struct(
    registry: &BuilderRegistry,
    put: &Put,
    array: &dyn Array,
) -> Result<ObjectMeta> {
    let array = array.as_struct();
    let children = STRUCT_ARRAY.children;
    let mut meta = array_meta(STRUCT_ARRAY.typename, array);
    meta.insert(ARROW_ARRAY.arrow_type, encode_type(array.data_type())?);
    meta.insert(&children.size(), array.num_columns());
    meta.add_member(ARROW_ARRAY.null_bitmap, put_validity(put, array.nulls())?);
    for (index, child) in array.columns().iter().enumerate() {
        meta.add_member(
            &children.at(index),
            registry.build_array(put, child.as_ref())?,
        );
    }
    create(meta)
}

/// Dictionaries: the indices (which carry the nulls) and the whole dictionary.
pub(crate) fn put_dictionary(
    registry: &BuilderRegistry,
    put: &Put,
    array: &dyn Array,
) -> Result<ObjectMeta> {
    let data_type = array.data_type();
    let dictionary = array
        .as_any_dictionary_opt()
        .ok_or_else(|| Error::UnsupportedType {
            data_type: data_type.clone(),
            family: family_of(data_type),
        })?;
    let mut meta = array_meta(DICTIONARY_ARRAY.typename, array);
    meta.insert(ARROW_ARRAY.arrow_type, encode_type(data_type)?);
    meta.insert(DICTIONARY_ARRAY.ordered, false);
    meta.add_member(
        DICTIONARY_ARRAY.indices,
        registry.build_array(put, dictionary.keys())?,
    );
    meta.add_member(
        DICTIONARY_ARRAY.dictionary,
        registry.build_array(put, dictionary.values().as_ref())?,
    );
    create(meta)
}

/// Chunked arrays: `arrow_type_`, `length_`, `null_count_` and one member per chunk (each of
/// `data_type`).
pub(crate) fn put_chunked(
    registry: &BuilderRegistry,
    put: &Put,
    data_type: &DataType,
    chunks: &[ArrayRef],
) -> Result<ObjectMeta> {
    let list = CHUNKED_ARRAY.chunks;
    let mut meta = ObjectMeta::with_typename(CHUNKED_ARRAY.typename);
    meta.insert(ARROW_ARRAY.arrow_type, encode_type(data_type)?);
    meta.insert(
        ARROW_ARRAY.length,
        chunks.iter().map(|chunk| chunk.len()).sum::<usize>(),
    );
    meta.insert(
        ARROW_ARRAY.null_count,
        chunks.iter().map(|chunk| chunk.null_count()).sum::<usize>(),
    );
    meta.insert(&list.size(), chunks.len());
    for (index, chunk) in chunks.iter().enumerate() {
        if chunk.data_type() != data_type {
            return Err(Error::ChunkTypeMismatch {
                index,
                expected: data_type.clone(),
                found: chunk.data_type().clone(),
            });
        }
        meta.add_member(&list.at(index), registry.build_array(put, chunk.as_ref())?);
    }
    create(meta)
}
