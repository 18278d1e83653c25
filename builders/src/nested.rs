//! Arrays with children: `vineyard::ListArray` / `vineyard::LargeListArray`,
//! `vineyard::StructArray` and `vineyard::DictionaryArray`. Children go back through the
//! registry, so user builders apply inside nested arrays too.

use arrow::array::{Array, AsArray, GenericListArray, OffsetSizeTrait};
use arrow::datatypes::DataType;
use vineyard_core::{IpcClient, ObjectMeta};
use vineyard_resolvers::layout::{
    encode_type, DICTIONARY_ARRAY, LARGE_LIST_ARRAY, LIST_ARRAY, STRUCT_ARRAY,
};

use crate::buffer::{array_meta, create, offset_span, put_offsets, put_validity};
use crate::error::{Error, Result};
use crate::registry::{family_of, BuilderRegistry};

fn put_list_array<O: OffsetSizeTrait>(
    registry: &BuilderRegistry,
    client: &IpcClient,
    array: &GenericListArray<O>,
    typename: &str,
) -> Result<ObjectMeta> {
    // A slice's offsets start past 0: store only its items, offsets rebased.
    let offsets = array.value_offsets();
    let (first, last) = offset_span(offsets);
    let values = array.values().slice(first, last - first);
    let mut meta = array_meta(typename, array);
    meta.insert("arrow_type_", encode_type(array.data_type())?);
    meta.add_member("null_bitmap_", put_validity(client, array.nulls())?);
    meta.add_member("buffer_offsets_", put_offsets(client, offsets)?);
    meta.add_member("values_", registry.put_array(client, values.as_ref())?);
    create(client, meta)
}

/// Lists with 32- or 64-bit offsets; `arrow_type_` keeps the item field.
pub(crate) fn put_list(
    registry: &BuilderRegistry,
    client: &IpcClient,
    array: &dyn Array,
) -> Result<ObjectMeta> {
    match array.data_type() {
        DataType::List(_) => put_list_array(registry, client, array.as_list::<i32>(), LIST_ARRAY),
        DataType::LargeList(_) => {
            put_list_array(registry, client, array.as_list::<i64>(), LARGE_LIST_ARRAY)
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
    client: &IpcClient,
    array: &dyn Array,
) -> Result<ObjectMeta> {
    let array = array.as_struct();
    let mut meta = array_meta(STRUCT_ARRAY, array);
    meta.insert("arrow_type_", encode_type(array.data_type())?);
    meta.insert("__children_-size", array.num_columns());
    meta.add_member("null_bitmap_", put_validity(client, array.nulls())?);
    for (index, child) in array.columns().iter().enumerate() {
        meta.add_member(
            &format!("__children_-{index}"),
            registry.put_array(client, child.as_ref())?,
        );
    }
    create(client, meta)
}

/// Dictionaries: the indices (which carry the nulls) and the whole dictionary.
pub(crate) fn put_dictionary(
    registry: &BuilderRegistry,
    client: &IpcClient,
    array: &dyn Array,
) -> Result<ObjectMeta> {
    let data_type = array.data_type();
    let dictionary = array
        .as_any_dictionary_opt()
        .ok_or_else(|| Error::UnsupportedType {
            data_type: data_type.clone(),
            family: family_of(data_type),
        })?;
    let mut meta = array_meta(DICTIONARY_ARRAY, array);
    meta.insert("arrow_type_", encode_type(data_type)?);
    meta.insert("ordered_", false);
    meta.add_member("indices_", registry.put_array(client, dictionary.keys())?);
    meta.add_member(
        "dictionary_",
        registry.put_array(client, dictionary.values().as_ref())?,
    );
    create(client, meta)
}
