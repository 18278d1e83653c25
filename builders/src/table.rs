//! `vineyard::SchemaProxy`, `vineyard::RecordBatch` and `vineyard::Table`.

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use vineyard_core::{IpcClient, ObjectMeta};
use vineyard_layout::{encode_schema, RECORD_BATCH, SCHEMA_PROXY, TABLE};

use crate::buffer::create;
use crate::error::{Error, Result};
use crate::put::Put;
use crate::registry::BuilderRegistry;

/// A schema as `schema_binary_`: JSON `{"bytes": [...]}` of its Arrow IPC encoding. It is
/// created at once (it has no blobs), so that every batch of a table shares it.
pub(crate) fn put_schema(put: &Put, schema: &Schema) -> Result<ObjectMeta> {
    put.create_now(schema_meta(schema)?)
}

/// The tree of a schema, not created yet.
fn schema_meta(schema: &Schema) -> Result<ObjectMeta> {
    let bytes = encode_schema(schema)?;
    let mut meta = ObjectMeta::with_typename(SCHEMA_PROXY.typename);
    meta.insert(
        SCHEMA_PROXY.schema_binary,
        serde_json::json!({ "bytes": bytes }).to_string(),
    );
    meta.set_nbytes(bytes.len() as u64);
    Ok(meta)
}

/// A batch's tree under `schema` (already stored), one column member per field.
fn record_batch_meta(
    registry: &BuilderRegistry,
    put: &Put,
    batch: &RecordBatch,
    schema: ObjectMeta,
) -> Result<ObjectMeta> {
    let mut meta = ObjectMeta::with_typename(RECORD_BATCH.typename);
    meta.insert(RECORD_BATCH.row_num, batch.num_rows());
    meta.insert(RECORD_BATCH.column_num, batch.num_columns());
    meta.insert(&RECORD_BATCH.columns.size(), batch.num_columns());
    let mut nbytes = 0;
    for (index, column) in batch.columns().iter().enumerate() {
        let member = registry.build_array(put, column.as_ref())?;
        nbytes += member.nbytes();
        meta.add_member(&RECORD_BATCH.columns.at(index), member);
    }
    meta.add_member(RECORD_BATCH.schema, schema);
    meta.set_nbytes(nbytes);
    create(meta)
}

/// A record batch: `schema_`, `row_num_`, `column_num_` and `__columns_-i`.
pub(crate) fn put_record_batch(
    registry: &BuilderRegistry,
    put: &Put,
    batch: &RecordBatch,
) -> Result<ObjectMeta> {
    let schema = put_schema(put, batch.schema().as_ref())?;
    record_batch_meta(registry, put, batch, schema)
}

/// Checks that a batch of a table has the table's fields.
fn check_fields(schema: &SchemaRef, index: usize, batch: &RecordBatch) -> Result<()> {
    if batch.schema().fields() != schema.fields() {
        return Err(Error::SchemaMismatch {
            index,
            expected: schema.clone(),
            found: batch.schema(),
        });
    }
    Ok(())
}

/// The tree of a table over partitions created already.
fn table_meta(schema: ObjectMeta, columns: usize, partitions: Vec<ObjectMeta>) -> ObjectMeta {
    let mut meta = ObjectMeta::with_typename(TABLE.typename);
    let rows: u64 = partitions
        .iter()
        .filter_map(|partition| partition.get(RECORD_BATCH.row_num))
        .filter_map(serde_json::Value::as_u64)
        .sum();
    meta.insert(TABLE.num_rows, rows);
    meta.insert(TABLE.num_columns, columns);
    meta.insert(TABLE.batch_num, partitions.len());
    meta.insert(&TABLE.partitions.size(), partitions.len());
    let mut nbytes = 0;
    for (index, partition) in partitions.into_iter().enumerate() {
        nbytes += partition.nbytes();
        meta.add_member(&TABLE.partitions.at(index), partition);
    }
    meta.add_member(TABLE.schema, schema);
    meta.set_nbytes(nbytes);
    meta
}

/// Writes a `vineyard::Table` batch by batch: each pushed batch is stored at once (its
/// buffers copied into blobs, its `vineyard::RecordBatch` created), so a stream of batches is
/// never held whole; [`TableWriter::finish`] creates the table over them. What was pushed
/// stays when a later step fails: run the writer inside `IpcClient::all_or_nothing` to have
/// it deleted.
pub struct TableWriter<'r> {
    registry: &'r BuilderRegistry,
    schema: SchemaRef,
    /// The stored `vineyard::SchemaProxy` every batch shares.
    schema_meta: ObjectMeta,
    /// The stored batches, in order.
    partitions: Vec<ObjectMeta>,
}

impl<'r> TableWriter<'r> {
    /// Stores the schema; the schema's types were checked by the registry.
    pub(crate) fn begin(
        registry: &'r BuilderRegistry,
        client: &IpcClient,
        schema: &SchemaRef,
    ) -> Result<TableWriter<'r>> {
        let schema_meta = Put::new(client).run(|_| schema_meta(schema))?;
        Ok(TableWriter {
            registry,
            schema: schema.clone(),
            schema_meta,
            partitions: Vec::new(),
        })
    }

    /// Stores one batch (its fields must be the table's); returns its tree.
    pub fn push(&mut self, client: &IpcClient, batch: &RecordBatch) -> Result<&ObjectMeta> {
        check_fields(&self.schema, self.partitions.len(), batch)?;
        let partition = Put::new(client)
            .run(|put| record_batch_meta(self.registry, put, batch, self.schema_meta.clone()))?;
        self.partitions.push(partition);
        Ok(self.partitions.last().expect("pushed above"))
    }

    /// Batches stored so far.
    pub fn batches(&self) -> usize {
        self.partitions.len()
    }

    /// Creates the table over the stored batches; returns its tree.
    pub fn finish(self, client: &IpcClient) -> Result<ObjectMeta> {
        let columns = self.schema.fields().len();
        let tree = table_meta(self.schema_meta, columns, self.partitions);
        Put::new(client).run(|_| Ok(tree))
    }
}

/// A table: `schema_`, `num_rows_`, `num_columns_`, `batch_num_` and `partitions_-i`.
pub(crate) fn put_table(
    registry: &BuilderRegistry,
    put: &Put,
    schema: &arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<ObjectMeta> {
    for (index, batch) in batches.iter().enumerate() {
        check_fields(schema, index, batch)?;
    }
    let schema_meta = put_schema(put, schema)?;
    let partitions = batches
        .iter()
        .map(|batch| record_batch_meta(registry, put, batch, schema_meta.clone()))
        .collect::<Result<Vec<_>>>()?;
    create(table_meta(schema_meta, schema.fields().len(), partitions))
}
