//! `vineyard::SchemaProxy`, `vineyard::RecordBatch` and `vineyard::Table`.

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use vineyard_core::{IpcClient, ObjectMeta};
use vineyard_layout::{encode_schema, RECORD_BATCH, SCHEMA_PROXY, TABLE};

use crate::buffer::create;
use crate::error::{Error, Result};
use crate::registry::BuilderRegistry;

/// A schema as `schema_binary_`: JSON `{"bytes": [...]}` of its Arrow IPC encoding.
pub(crate) fn put_schema(client: &IpcClient, schema: &Schema) -> Result<ObjectMeta> {
    let bytes = encode_schema(schema)?;
    let mut meta = ObjectMeta::with_typename(SCHEMA_PROXY.typename);
    meta.insert(
        SCHEMA_PROXY.schema_binary,
        serde_json::json!({ "bytes": bytes }).to_string(),
    );
    meta.set_nbytes(bytes.len() as u64);
    create(client, meta)
}

/// A batch's tree under `schema` (already stored), one column member per field.
fn record_batch_meta(
    registry: &BuilderRegistry,
    client: &IpcClient,
    batch: &RecordBatch,
    schema: ObjectMeta,
) -> Result<ObjectMeta> {
    let mut meta = ObjectMeta::with_typename(RECORD_BATCH.typename);
    meta.insert(RECORD_BATCH.row_num, batch.num_rows());
    meta.insert(RECORD_BATCH.column_num, batch.num_columns());
    meta.insert(&RECORD_BATCH.columns.size(), batch.num_columns());
    let mut nbytes = 0;
    for (index, column) in batch.columns().iter().enumerate() {
        let member = registry.put_array(client, column.as_ref())?;
        nbytes += member.nbytes();
        meta.add_member(&RECORD_BATCH.columns.at(index), member);
    }
    meta.add_member(RECORD_BATCH.schema, schema);
    meta.set_nbytes(nbytes);
    create(client, meta)
}

/// A record batch: `schema_`, `row_num_`, `column_num_` and `__columns_-i`.
pub(crate) fn put_record_batch(
    registry: &BuilderRegistry,
    client: &IpcClient,
    batch: &RecordBatch,
) -> Result<ObjectMeta> {
    let schema = put_schema(client, batch.schema().as_ref())?;
    record_batch_meta(registry, client, batch, schema)
}

/// A table: `schema_`, `num_rows_`, `num_columns_`, `batch_num_` and `partitions_-i`.
pub(crate) fn put_table(
    registry: &BuilderRegistry,
    client: &IpcClient,
    schema: &arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<ObjectMeta> {
    for (index, batch) in batches.iter().enumerate() {
        if batch.schema().fields() != schema.fields() {
            return Err(Error::SchemaMismatch {
                index,
                expected: schema.clone(),
                found: batch.schema(),
            });
        }
    }
    let schema_meta = put_schema(client, schema)?;
    let mut meta = ObjectMeta::with_typename(TABLE.typename);
    meta.insert(
        TABLE.num_rows,
        batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
    );
    meta.insert(TABLE.num_columns, schema.fields().len());
    meta.insert(TABLE.batch_num, batches.len());
    meta.insert(&TABLE.partitions.size(), batches.len());
    let mut nbytes = 0;
    for (index, batch) in batches.iter().enumerate() {
        let partition = record_batch_meta(registry, client, batch, schema_meta.clone())?;
        nbytes += partition.nbytes();
        meta.add_member(&TABLE.partitions.at(index), partition);
    }
    meta.add_member(TABLE.schema, schema_meta);
    meta.set_nbytes(nbytes);
    create(client, meta)
}
