//! `vineyard::SchemaProxy` (`schema_binary_`), `vineyard::RecordBatch` (`schema_`, `row_num_`,
//! `__columns_-i`) and `vineyard::Table` (`schema_`, `batch_num_`, `partitions_-i`).

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use serde_json::Value;
use vineyard_core::{IpcClient, ObjectMeta};
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

/// The schema a `vineyard::SchemaProxy` tree holds (`schema_binary_`, or a `buffer_` blob).
pub(crate) fn schema_of(client: &IpcClient, proxy: &ObjectMeta) -> Result<Schema> {
    let decoded = match schema_bytes(proxy)? {
        Some(bytes) => decode_schema(&bytes),
        None => decode_schema(member_buffer(client, proxy, SCHEMA_PROXY.buffer)?.as_slice()),
    };
    decoded
        .map_err(|error| Error::invalid_field(proxy, SCHEMA_PROXY.schema_binary, error.to_string()))
}

/// A schema alone: an empty table of that schema.
pub(crate) fn resolve_schema_proxy(
    _: &ResolverRegistry,
    client: &IpcClient,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    Ok(Resolved::Table {
        schema: Arc::new(schema_of(client, meta)?),
        batches: Vec::new(),
    })
}

fn record_batch(
    registry: &ResolverRegistry,
    client: &IpcClient,
    meta: &ObjectMeta,
) -> Result<RecordBatch> {
    let schema = Arc::new(schema_of(client, &member(meta, RECORD_BATCH.schema)?)?);
    let columns_size = RECORD_BATCH.columns.size();
    let count = fields::usize_of_any(meta, &[&columns_size, RECORD_BATCH.column_num])?;
    let rows = fields::optional_usize(meta, RECORD_BATCH.row_num)?;
    let columns = (0..count)
        .map(|index| {
            registry.resolve_array(client, &member(meta, &RECORD_BATCH.columns.at(index))?)
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(rows);
    Ok(RecordBatch::try_new_with_options(
        schema, columns, &options,
    )?)
}

/// A record batch: its schema and one array per column.
pub(crate) fn resolve_record_batch(
    registry: &ResolverRegistry,
    client: &IpcClient,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    Ok(Resolved::RecordBatch(record_batch(registry, client, meta)?))
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
    client: &IpcClient,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let schema: SchemaRef = Arc::new(schema_of(client, &member(meta, TABLE.schema)?)?);
    let partitions_size = TABLE.partitions.size();
    let count = fields::usize_of_any(meta, &[TABLE.batch_num, &partitions_size])?;
    let mut batches = Vec::with_capacity(count);
    for index in 0..count {
        let partition = member(meta, &TABLE.partitions.at(index))?;
        let batch = match registry.resolve(client, &partition)? {
            Resolved::RecordBatch(batch) => batch,
            other => {
                return Err(Error::unexpected_shape(
                    &partition,
                    "a record batch",
                    other.kind(),
                ))
            }
        };
        batches.push(with_schema(&schema, batch)?);
    }
    Ok(Resolved::Table { schema, batches })
}
