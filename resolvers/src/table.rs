//! `vineyard::SchemaProxy` (`schema_binary_`), `vineyard::RecordBatch` (`schema_`, `row_num_`,
//! `__columns_-i`) and `vineyard::Table` (`schema_`, `batch_num_`, `partitions_-i`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use serde_json::Value;
use vineyard_core::ObjectMeta;

use crate::source::BlobSource;
use vineyard_layout::{decode_schema, RECORD_BATCH, SCHEMA_PROXY, TABLE};

use crate::buffer::member_buffer;
use crate::error::{Error, Result};
use crate::fields::{self, member};
use crate::{Resolved, ResolverRegistry};

/// The bytes of `schema_binary_`: JSON `{"bytes": [...]}`, as text or as JSON.
fn schema_bytes(meta: &ObjectMeta) -> Result<Option<Vec<u8>>> {
    let field = SCHEMA_PROXY.schema_binary;
    let bad = |problem: &str| Error::invalid_field(meta, field, problem.to_string());
    let value = match meta.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => serde_json::from_str::<Value>(text)
            .map_err(|error| bad(&format!("is not JSON: {error}")))?,
        Some(other) => other.clone(),
    };
    let list = match &value {
        Value::Object(object) => object.get("bytes"),
        Value::Array(_) => Some(&value),
        _ => None,
    };
    let Some(Value::Array(items)) = list else {
        return Err(bad("should be JSON {\"bytes\": [...]}"));
    };
    items
        .iter()
        .map(|item| item.as_u64().and_then(|byte| u8::try_from(byte).ok()))
        .collect::<Option<Vec<u8>>>()
        .map(Some)
        .ok_or_else(|| bad("holds something other than bytes"))
}

/// Schemas decoded from `schema_binary_` texts, by text: every batch of a table, and every
/// `get` of it, decodes the same few schemas.
static DECODED: Mutex<Option<HashMap<String, SchemaRef>>> = Mutex::new(None);

/// How many schemas [`DECODED`] keeps (it starts over when full).
const DECODED_SCHEMAS: usize = 256;

/// The `{"bytes": [...]}` of a `schema_binary_` text, read straight into bytes.
fn quick_schema_bytes(text: &str) -> Option<Vec<u8>> {
    let mut parsed: BTreeMap<String, Vec<u8>> = serde_json::from_str(text).ok()?;
    parsed.remove("bytes")
}

/// The schema a `vineyard::SchemaProxy` tree holds (`schema_binary_`, or a `buffer_` blob).
pub(crate) fn schema_of(source: &dyn BlobSource, proxy: &ObjectMeta) -> Result<SchemaRef> {
    let invalid = |error: arrow::error::ArrowError| {
        Error::invalid_field(proxy, SCHEMA_PROXY.schema_binary, error.to_string())
    };
    let Some(Value::String(text)) = proxy.get(SCHEMA_PROXY.schema_binary) else {
        let decoded = match schema_bytes(proxy)? {
            Some(bytes) => decode_schema(&bytes),
            None => decode_schema(member_buffer(source, proxy, SCHEMA_PROXY.buffer)?.as_slice()),
        };
        return decoded.map(Arc::new).map_err(invalid);
    };
    let mut cache = DECODED.lock().unwrap_or_else(|poison| poison.into_inner());
    if let Some(schema) = cache.as_ref().and_then(|cache| cache.get(text.as_str())) {
        return Ok(Arc::clone(schema));
    }
    drop(cache);
    let bytes = match quick_schema_bytes(text) {
        Some(bytes) => bytes,
        None => schema_bytes(proxy)?.unwrap_or_default(),
    };
    let schema = Arc::new(decode_schema(&bytes).map_err(invalid)?);
    cache = DECODED.lock().unwrap_or_else(|poison| poison.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if cache.len() >= DECODED_SCHEMAS {
        cache.clear();
    }
    cache.insert(text.clone(), Arc::clone(&schema));
    Ok(schema)
}

/// A schema alone: an empty table of that schema.
pub(crate) fn resolve_schema_proxy(
    _: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    Ok(Resolved::Table {
        schema: schema_of(source, meta)?,
        batches: Vec::new(),
    })
}

fn record_batch(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<RecordBatch> {
    let schema = schema_of(source, member(meta, RECORD_BATCH.schema)?)?;
    let columns_size = RECORD_BATCH.columns.size();
    let count = fields::usize_of_any(meta, &[&columns_size, RECORD_BATCH.column_num])?;
    let rows = fields::optional_usize(meta, RECORD_BATCH.row_num)?;
    let columns = (0..count)
        .map(|index| registry.resolve_array(source, member(meta, &RECORD_BATCH.columns.at(index))?))
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(rows);
    Ok(RecordBatch::try_new_with_options(
        schema, columns, &options,
    )?)
}

/// A record batch: its schema and one array per column.
pub(crate) fn resolve_record_batch(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    Ok(Resolved::RecordBatch(record_batch(registry, source, meta)?))
}

/// Puts `batch` under the table's `schema` (Arrow checks that the column types fit).
fn with_schema(schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch> {
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        batch.columns().to_vec(),
        &options,
    )?)
}

/// A table: record batches sharing one schema.
pub(crate) fn resolve_table(
    registry: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let schema: SchemaRef = schema_of(source, member(meta, TABLE.schema)?)?;
    let partitions_size = TABLE.partitions.size();
    let count = fields::usize_of_any(meta, &[TABLE.batch_num, &partitions_size])?;
    let mut batches = Vec::with_capacity(count);
    for index in 0..count {
        let partition = member(meta, &TABLE.partitions.at(index))?;
        let batch = match registry.resolve(source, partition)? {
            Resolved::RecordBatch(batch) => batch,
            other => {
                return Err(Error::unexpected_shape(
                    partition,
                    "a record batch",
                    other.kind(),
                ))
            }
        };
        batches.push(with_schema(&schema, batch)?);
    }
    Ok(Resolved::Table { schema, batches })
}

/// The schema and row count of a `vineyard::Table` or `vineyard::RecordBatch` read from its
/// tree alone (no column is resolved; a blob is read only for a schema kept in one), for
/// describing many objects cheaply; `None` for other objects.
pub fn table_shape(source: &dyn BlobSource, meta: &ObjectMeta) -> Result<Option<(SchemaRef, u64)>> {
    let (schema_member, rows_field) = match meta.typename() {
        Some(typename) if typename == TABLE.typename => (TABLE.schema, TABLE.num_rows),
        Some(typename) if typename == RECORD_BATCH.typename => {
            (RECORD_BATCH.schema, RECORD_BATCH.row_num)
        }
        _ => return Ok(None),
    };
    let Some(rows) = fields::optional_usize(meta, rows_field)? else {
        return Ok(None);
    };
    let schema = schema_of(source, member(meta, schema_member)?)?;
    Ok(Some((schema, rows as u64)))
}
