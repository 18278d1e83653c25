//! Arrays with children: `vineyard::ListArray` / `vineyard::LargeListArray` (`buffer_offsets_`
//! and `values_`), `vineyard::StructArray` (`__children_-i`), `vineyard::DictionaryArray`
//! (`indices_`, `dictionary_`) and `vineyard::ChunkedArray` (`__chunks_-i`).

use std::sync::Arc;

use arrow::array::{make_array, new_empty_array, ArrayRef};
use arrow::datatypes::{DataType, Field, Fields, Schema};
use arrow::record_batch::RecordBatch;
use vineyard_core::ObjectMeta;

use crate::source::BlobSource;
use vineyard_layout::{
    MemberList, ARROW_ARRAY, CHUNKED_ARRAY, DICTIONARY_ARRAY, LARGE_LIST_ARRAY, LIST_ARRAY,
    STRUCT_ARRAY,
};

use crate::buffer::{bitmap, member_blobs};
use crate::error::{typename_of, Error, Result};
use crate::fields::{self, member};
use crate::primitive::{arrow_type, buffers_and_bitmap, Extent};
use crate::resolved::VALUE_COLUMN;
use crate::{Resolved, ResolverRegistry};

/// The members of `list` (as many as its size field says) resolved as arrays.
fn list_arrays(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
    list: MemberList,
) -> Result<Vec<ArrayRef>> {
    let count = fields::usize_field(meta, &list.size())?;
    (0..count)
        .map(|index| registry.resolve_array(source, member(meta, &list.at(index))?))
        .collect()
}

/// Lists with 32- or 64-bit offsets; the item field from `arrow_type_`.
pub(crate) fn resolve_list(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let large = typename_of(meta) == LARGE_LIST_ARRAY.typename;
    let (values_name, offsets_name) = if large {
        (LARGE_LIST_ARRAY.values, LARGE_LIST_ARRAY.buffer_offsets)
    } else {
        (LIST_ARRAY.values, LIST_ARRAY.buffer_offsets)
    };
    let values = registry.resolve_array(source, member(meta, values_name)?)?;
    let data_type = match arrow_type(meta)? {
        Some(data_type) => data_type,
        None => {
            let item = Arc::new(Field::new("item", values.data_type().clone(), true));
            if large {
                DataType::LargeList(item)
            } else {
                DataType::List(item)
            }
        }
    };
    let extent = Extent::of(meta)?;
    let (buffers, nulls) = buffers_and_bitmap(source, meta, &[offsets_name])?;
    if extent.length == 0 && extent.offset == 0 && buffers[0].is_empty() {
        return Ok(Resolved::Array(new_empty_array(&data_type)));
    }
    let data = extent
        .builder(data_type, buffers, nulls)
        .add_child_data(values.to_data())
        .build()?;
    Ok(Resolved::Array(make_array(data)))
}

/// Structs: a validity bitmap and one child per field.
pub(crate) fn resolve_struct(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let children = list_arrays(registry, source, meta, STRUCT_ARRAY.children)?;
    let data_type = match arrow_type(meta)? {
        Some(data_type) => data_type,
        // Without `arrow_type_` the field names are lost: number them.
        None => DataType::Struct(Fields::from_iter(children.iter().enumerate().map(
            |(index, child)| Field::new(format!("f{index}"), child.data_type().clone(), true),
        ))),
    };
    let extent = Extent::of(meta)?;
    let nulls = bitmap(
        source,
        member_blobs(source, meta, &[ARROW_ARRAY.null_bitmap])?.remove(0),
    );
    let data = extent
        .builder(data_type, Vec::new(), nulls)
        .child_data(children.iter().map(|child| child.to_data()).collect())
        .build()?;
    Ok(Resolved::Array(make_array(data)))
}

/// Dictionaries: the indices array (which carries the nulls) over the dictionary array.
pub(crate) fn resolve_dictionary(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let indices = registry.resolve_array(source, member(meta, DICTIONARY_ARRAY.indices)?)?;
    let dictionary = registry.resolve_array(source, member(meta, DICTIONARY_ARRAY.dictionary)?)?;
    let data_type = match arrow_type(meta)? {
        Some(data_type) => data_type,
        None => DataType::Dictionary(
            Box::new(indices.data_type().clone()),
            Box::new(dictionary.data_type().clone()),
        ),
    };
    let data = indices
        .to_data()
        .into_builder()
        .data_type(data_type)
        .child_data(vec![dictionary.to_data()])
        .build()?;
    Ok(Resolved::Array(make_array(data)))
}

/// Chunked arrays: a table of one column `value`, one batch per chunk.
pub(crate) fn resolve_chunked(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let chunks = list_arrays(registry, source, meta, CHUNKED_ARRAY.chunks)?;
    let data_type = match (arrow_type(meta)?, chunks.first()) {
        (Some(data_type), _) => data_type,
        (None, Some(chunk)) => chunk.data_type().clone(),
        (None, None) => {
            return Err(Error::invalid_field(
                meta,
                ARROW_ARRAY.arrow_type,
                "is missing, and there is no chunk to take the type from",
            ))
        }
    };
    let schema = Arc::new(Schema::new(vec![Field::new(VALUE_COLUMN, data_type, true)]));
    let batches = chunks
        .into_iter()
        .map(|chunk| RecordBatch::try_new(Arc::clone(&schema), vec![chunk]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Resolved::Table { schema, batches })
}
