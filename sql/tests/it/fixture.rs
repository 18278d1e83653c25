//! Instances, sample tables and engines.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::SchemaRef;
use vineyard_core::{IpcClient, ObjectID};
use vineyard_sql::{SqlEngine, SqlOptions};
use vineyard_test_harness::TestServer;

/// Shared memory of a test instance.
pub const SIZE: u64 = 128 << 20;

/// Distinct keys of the sample tables.
pub const KEYS: i64 = 10;

/// An instance.
pub fn instance() -> TestServer {
    TestServer::builder().size(SIZE).start()
}

/// An engine over `server` with `options`.
pub fn engine_with(server: &TestServer, options: SqlOptions) -> SqlEngine {
    SqlEngine::new(server.client(), options).expect("engine")
}

/// An engine over `client`'s connection (its mappings: addresses compare).
pub fn engine_over(client: &IpcClient) -> SqlEngine {
    let options = SqlOptions {
        target_partitions: Some(2),
        batch_size: Some(100),
        ..SqlOptions::default()
    };
    SqlEngine::new(client.clone(), options).expect("engine")
}

/// An engine over `server`, two partitions, small batches (so that scans cut and spread).
pub fn engine(server: &TestServer) -> SqlEngine {
    engine_with(
        server,
        SqlOptions {
            target_partitions: Some(2),
            batch_size: Some(100),
            ..SqlOptions::default()
        },
    )
}

/// Rows `start..start + rows` of the sample: `k` = i % KEYS, `v` = i / 2 (float),
/// `s` = "s<i>" (null every 7th row).
pub fn sample(start: usize, rows: usize) -> RecordBatch {
    let range = start as i64..(start + rows) as i64;
    let k = Int64Array::from_iter_values(range.clone().map(|i| i % KEYS));
    let v = Float64Array::from_iter_values(range.clone().map(|i| i as f64 / 2.0));
    let s = StringArray::from_iter(range.map(|i| (i % 7 != 0).then(|| format!("s{i}"))));
    RecordBatch::try_from_iter([
        ("k", Arc::new(k) as ArrayRef),
        ("v", Arc::new(v) as ArrayRef),
        ("s", Arc::new(s) as ArrayRef),
    ])
    .expect("sample batch")
}

/// The sample in `batches` batches of `rows` rows each.
pub fn sample_batches(batches: usize, rows: usize) -> Vec<RecordBatch> {
    (0..batches)
        .map(|index| sample(index * rows, rows))
        .collect()
}

/// Puts `batches` as a `vineyard::Table` named `name` (persisted).
pub fn put_table(client: &IpcClient, name: &str, batches: &[RecordBatch]) -> ObjectID {
    let schema: SchemaRef = batches[0].schema();
    let meta = vineyard_builders::put_table(client, &schema, batches).expect("put table");
    let id = meta.id().expect("id");
    client.persist(id).expect("persist");
    client.put_name(id, name).expect("name");
    id
}

/// Runs `query` on a fresh multi-threaded runtime.
pub fn collect(engine: &SqlEngine, query: &str) -> vineyard_sql::Result<Vec<RecordBatch>> {
    runtime().block_on(engine.collect(query))
}

/// A multi-threaded runtime, as services run the engine on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Column `name` of `batches`, as i64s (nulls as None).
pub fn i64s(batches: &[RecordBatch], name: &str) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|batch| {
            let column = batch.column_by_name(name).expect("column");
            let column = column.as_any().downcast_ref::<Int64Array>().expect("int64");
            (0..column.len())
                .map(|i| column.is_valid(i).then(|| column.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Column `name` of `batches`, as f64s.
pub fn f64s(batches: &[RecordBatch], name: &str) -> Vec<f64> {
    batches
        .iter()
        .flat_map(|batch| {
            let column = batch.column_by_name(name).expect("column");
            let column = column
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("float64");
            column.values().to_vec()
        })
        .collect()
}

/// Column `name` of `batches`, as strings.
pub fn strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|batch| {
            let column = batch.column_by_name(name).expect("column");
            let column = column.as_any().downcast_ref::<StringArray>().expect("utf8");
            column
                .iter()
                .map(|value| value.map(String::from))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Rows of `batches`.
pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}
