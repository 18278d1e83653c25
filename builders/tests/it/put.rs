//! `Put`: a put that fails leaves the store as it was, large buffers are written in one go,
//! and buffers that are blobs already are reused.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, Int8Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use vineyard_builders::{default_registry, Put};
use vineyard_core::{ObjectID, ObjectMeta};
use vineyard_test_harness::TestServer;

fn wide_batch(columns: usize, rows: usize) -> RecordBatch {
    let fields: Vec<Field> = (0..columns)
        .map(|index| Field::new(format!("c{index}"), DataType::Int64, false))
        .collect();
    let values: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows as i64));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), vec![values; columns]).unwrap()
}

fn blob_of(meta: &ObjectMeta, path: &[&str]) -> ObjectID {
    let mut node = meta.clone();
    for name in path {
        node = node.member(name).expect("member");
    }
    node.id().expect("blob id")
}

#[test]
fn a_put_the_server_refuses_is_undone() {
    let server = TestServer::builder()
        .config(|config| config.limits.members = 100)
        .start();
    let client = server.client();
    let baseline = server.memory_usage();
    let objects = client.list_metadatas("*", false, 1 << 20).unwrap().len();
    // Large columns (allocated blobs) and small ones (sent whole): the batch of 150 columns
    // is over the member limit, so its create fails after every blob was written.
    let large: ArrayRef = Arc::new(Float64Array::from_iter_values((0..4096).map(f64::from)));
    let small: ArrayRef = Arc::new(Int8Array::from(vec![7; 4096]));
    let columns: Vec<(String, ArrayRef)> = (0..150)
        .map(|index| {
            let column = if index % 10 == 0 { &large } else { &small };
            (format!("c{index}"), Arc::clone(column))
        })
        .collect();
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let error = vineyard_builders::put_record_batch(&client, &batch).unwrap_err();
    assert!(error.to_string().contains("--max_members"), "{error}");
    server.wait_for_memory_usage(baseline);
    assert_eq!(
        client.list_metadatas("*", false, 1 << 20).unwrap().len(),
        objects
    );
    // The connection still works, and a batch within the limit is put.
    vineyard_builders::put_record_batch(&client, &wide_batch(50, 4)).unwrap();
}

#[test]
fn large_buffers_are_written_together_and_read_back() {
    let server = TestServer::start();
    let client = server.client();
    let values: Vec<i64> = (0..1 << 18).collect();
    let strings = StringArray::from_iter_values((0..1 << 18).map(|i| format!("value {i}")));
    let batch = RecordBatch::try_from_iter([
        ("numbers", Arc::new(Int64Array::from(values)) as ArrayRef),
        ("strings", Arc::new(strings) as ArrayRef),
    ])
    .unwrap();
    let created = vineyard_builders::put_record_batch(&client, &batch).unwrap();
    let stored = client.get_metadata(created.id().unwrap()).unwrap();
    match vineyard_resolvers::resolve(&client, &stored).unwrap() {
        vineyard_resolvers::Resolved::RecordBatch(read) => assert_eq!(read, batch),
        other => panic!("resolved to {}", other.kind()),
    }
}

#[test]
fn a_buffer_that_is_a_blob_already_is_reused() {
    let server = TestServer::start();
    let client = server.client();
    let first =
        vineyard_builders::put_array(&client, &Int64Array::from_iter_values(0..1 << 16)).unwrap();
    let stored = client.get_metadata(first.id().unwrap()).unwrap();
    let read = vineyard_resolvers::resolve_array(&client, &stored).unwrap();
    let data = read.to_data();
    let buffer = &data.buffers()[0];
    let blob = blob_of(&stored, &["buffer_"]);
    let find = |address: usize, size: usize| {
        (address == buffer.as_ptr() as usize && size == buffer.len()).then_some(blob)
    };
    let again = default_registry()
        .put_array_with(Put::new(&client).reusing(&find), read.as_ref())
        .unwrap();
    assert_ne!(again.id(), first.id());
    assert_eq!(blob_of(&again, &["buffer_"]), blob);
}
