//! pandas objects as the Python package stores them: `vineyard::DataFrame` (a record batch of
//! its columns; the index is left out), `vineyard::Series` and `vineyard::Index` (their values)
//! and `vineyard::RangeIndex` (its values, computed).
//!
//! Columns of numpy dtypes are `vineyard::Tensor<T>` members and stay in the shared memory;
//! object and extension columns (pandas strings, categoricals, nullable integers) are pickled,
//! and Rust cannot read them.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use serde_json::Value;
use vineyard_core::ObjectMeta;

use crate::source::BlobSource;
use vineyard_layout::{DATA_FRAME, INDEX, PICKLE_BUFFER, RANGE_INDEX, SERIES};

use crate::error::{typename_of, Error, Result};
use crate::fields::{self, json_field, member};
use crate::{Resolved, ResolverRegistry};

/// A label stored as JSON text: strings as themselves, anything else as its JSON.
fn label(meta: &ObjectMeta, key: &str) -> Result<Option<String>> {
    Ok(json_field(meta, key)?.map(|value| match value {
        Value::String(text) => text,
        other => other.to_string(),
    }))
}

/// The values member `name` as an array; pickled values are refused with the reason.
fn values(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
    name: &str,
    what: &str,
) -> Result<ArrayRef> {
    let values = member(meta, name)?;
    if typename_of(values) == PICKLE_BUFFER.typename {
        return Err(Error::unsupported_value(
            meta,
            format!(
                "{what} is pickled (an object or extension dtype: strings, categoricals, \
                 nullable integers, tz-aware datetimes); put the data as a pyarrow Table \
                 (`pa.Table.from_pandas`) to read it from Rust"
            ),
        ));
    }
    registry.resolve_array(source, values)
}

/// The number of rows an index holds, if it says without resolving it.
fn index_length(meta: &ObjectMeta) -> Result<Option<usize>> {
    let Some(index) = meta.member_ref(DATA_FRAME.index) else {
        return Ok(None);
    };
    if typename_of(index) != RANGE_INDEX.typename {
        return Ok(None);
    }
    Ok(Some(range_values(index)?.len()))
}

/// A DataFrame: one column per `__values_-value-i`, named by `__values_-key-i`.
pub(crate) fn resolve_data_frame(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let columns_map = DATA_FRAME.values;
    let count = fields::usize_field(meta, &columns_map.size())?;
    let listed = match json_field(meta, DATA_FRAME.columns)? {
        Some(Value::Array(labels)) => labels,
        _ => Vec::new(),
    };
    let mut schema_fields = Vec::with_capacity(count);
    let mut columns = Vec::with_capacity(count);
    for position in 0..count {
        let name = match label(meta, &columns_map.key(position))? {
            Some(name) => name,
            None => match listed.get(position) {
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
                None => position.to_string(),
            },
        };
        let column = values(
            registry,
            source,
            meta,
            &columns_map.value(position),
            &format!("column `{name}`"),
        )?;
        schema_fields.push(Field::new(name, column.data_type().clone(), true));
        columns.push(column);
    }
    let rows = match columns.first() {
        Some(column) => Some(column.len()),
        None => index_length(meta)?,
    };
    let options = RecordBatchOptions::new().with_row_count(rows.or(Some(0)));
    let schema = Arc::new(Schema::new(schema_fields));
    Ok(Resolved::RecordBatch(RecordBatch::try_new_with_options(
        schema, columns, &options,
    )?))
}

/// A Series: its values (`value_`); the index is left out.
pub(crate) fn resolve_series(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let array = values(registry, source, meta, SERIES.value, "the series")?;
    Ok(Resolved::Array(array))
}

/// An Index: its values (`value_`).
pub(crate) fn resolve_index(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let array = values(registry, source, meta, INDEX.value, "the index")?;
    Ok(Resolved::Array(array))
}

fn signed(meta: &ObjectMeta, field: &str) -> Result<i64> {
    match json_field(meta, field)? {
        Some(Value::Number(number)) => number.as_i64(),
        _ => None,
    }
    .ok_or_else(|| Error::invalid_field(meta, field, "should be an integer"))
}

fn range_values(meta: &ObjectMeta) -> Result<Vec<i64>> {
    let (start, stop, step) = (
        signed(meta, RANGE_INDEX.start)?,
        signed(meta, RANGE_INDEX.stop)?,
        signed(meta, RANGE_INDEX.step)?,
    );
    if step == 0 {
        return Err(Error::invalid_field(meta, RANGE_INDEX.step, "is zero"));
    }
    let mut values = Vec::new();
    let mut value = start;
    while (step > 0 && value < stop) || (step < 0 && value > stop) {
        values.push(value);
        value = match value.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(values)
}

/// A RangeIndex: `start_`, `stop_`, `step_`; its values are computed (nothing is stored).
pub(crate) fn resolve_range_index(
    _: &ResolverRegistry,
    _: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    Ok(Resolved::Array(Arc::new(Int64Array::from(range_values(
        meta,
    )?))))
}
