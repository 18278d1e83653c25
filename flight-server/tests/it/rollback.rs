//! A `do_put` is all or nothing: one that fails while storing (the store is full from the
//! first batch or only later, the client cancels, the stream is cut after batches were
//! stored as they arrived) removes every object it created, and the instance's memory usage
//! returns to where it was.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use tonic::Code;
use vineyard_core::{Code as VineyardCode, IpcClient};
use vineyard_flight_server::Error;

use crate::data::numbers;

use crate::fixture::{flight_instance, FlightClients};

/// Objects (blobs included) and bytes in the instance.
fn footprint(ipc: &IpcClient) -> (usize, u64) {
    let objects = ipc
        .list_metadatas("*", false, 1_000_000)
        .expect("list")
        .len();
    (objects, ipc.status().expect("status").memory_usage)
}

/// Fills the store with one blob until `free` bytes are left; returns the blob's writer's
/// client, which keeps nothing else.
fn leave_free(ipc: &IpcClient, free: u64) {
    let status = ipc.status().expect("status");
    let fill = status.memory_limit - status.memory_usage - free;
    let mut filler = ipc.create_blob(fill as usize).expect("filler blob");
    filler[0] = 1;
    filler.seal().expect("sealed");
}

/// `batches` batches of `rows` 64-bit integers each (8 bytes a row).
fn integer_batches(batches: usize, rows: usize) -> Vec<RecordBatch> {
    (0..batches)
        .map(|index| numbers((index * rows) as i64, rows))
        .collect()
}

fn assert_out_of_memory(error: &Error) {
    assert_eq!(error.code(), Code::ResourceExhausted, "{error}");
    assert_eq!(
        error.vineyard_code(),
        VineyardCode::NotEnoughMemory,
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_whose_first_batch_does_not_fit_leaves_nothing() {
    let instance = flight_instance();
    let ipc = instance.client();
    leave_free(&ipc, 1 << 20);
    let before = footprint(&ipc);
    let mut remote = instance.remote().await;
    // 2 MiB batches (one message each) into 1 MiB.
    let batches = integer_batches(4, 256 << 10);
    let error = remote
        .put_table(batches[0].schema(), batches, None)
        .await
        .expect_err("the store is too small");
    assert_out_of_memory(&error);
    assert_eq!(
        footprint(&ipc),
        before,
        "the failed put left objects or bytes"
    );
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_that_fills_the_store_midway_leaves_nothing() {
    let instance = flight_instance();
    let ipc = instance.client();
    leave_free(&ipc, 9 << 20);
    let before = footprint(&ipc);
    let mut remote = instance.remote().await;
    // Four of the 2 MiB batches fit (with their validity and schema), the fifth does not.
    let batches = integer_batches(8, 256 << 10);
    let error = remote
        .put_table(batches[0].schema(), batches, Some("never"))
        .await
        .expect_err("the store fills up");
    assert_out_of_memory(&error);
    assert_eq!(
        footprint(&ipc),
        before,
        "the failed put left objects or bytes"
    );
    assert!(ipc.get_name("never", false).is_err());

    // The room is still there: a put that fits goes through.
    let batches = integer_batches(4, 256 << 10);
    let id = remote
        .put_table(batches[0].schema(), batches, None)
        .await
        .expect("a put that fits");
    assert!(ipc.exists(id).unwrap());
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_cancelled_while_storing_leaves_nothing() {
    let instance = flight_instance();
    let ipc = instance.client();
    let before = footprint(&ipc);
    // Many narrow columns: storing takes long enough to cancel in the middle.
    let columns = 2_000;
    let schema = Arc::new(Schema::new(
        (0..columns)
            .map(|index| Field::new(format!("c{index}"), DataType::Int64, false))
            .collect::<Vec<_>>(),
    ));
    let batches: Vec<RecordBatch> = (0..8)
        .map(|batch| {
            let arrays = (0..columns)
                .map(|column| Arc::new(Int64Array::from(vec![batch * column as i64])) as _)
                .collect();
            RecordBatch::try_new(schema.clone(), arrays).unwrap()
        })
        .collect();
    let mut remote = instance.remote().await;
    let put = tokio::spawn(async move { remote.put_table(schema, batches, None).await });
    // Cancel once the store has begun (its first columns take memory).
    let deadline = Instant::now() + Duration::from_secs(60);
    while footprint(&ipc).1 == before.1 {
        assert!(Instant::now() < deadline, "the put never started storing");
        assert!(
            !put.is_finished(),
            "the put ended before it could be cancelled"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    put.abort();
    let _ = put.await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while footprint(&ipc) != before {
        assert!(
            Instant::now() < deadline,
            "a cancelled put left {:?} behind (before: {before:?})",
            footprint(&ipc)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_that_fails_half_way_through_its_buffers_leaves_nothing() {
    use arrow::array::StringArray;
    let instance = flight_instance();
    let ipc = instance.client();
    // Room for the column's offsets but not for its values: one row of 3 MiB (a message
    // cannot split a row, so the column arrives whole).
    leave_free(&ipc, 1 << 20);
    let before = footprint(&ipc);
    let values = StringArray::from(vec!["v".repeat(3 << 20)]);
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(values)]).unwrap();
    let mut remote = instance.remote().await;
    let error = remote
        .put_table(schema, vec![batch], None)
        .await
        .expect_err("the values do not fit");
    assert_out_of_memory(&error);
    assert_eq!(
        footprint(&ipc),
        before,
        "the column's first buffers were left behind"
    );
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_stores_batches_as_they_arrive_and_a_cut_stream_leaves_nothing() {
    use arrow_flight::encode::FlightDataEncoderBuilder;
    use arrow_flight::error::FlightError;
    use futures::{stream, StreamExt, TryStreamExt};
    let instance = flight_instance();
    let ipc = instance.client();
    let before = footprint(&ipc);
    // Three batches of 1 MiB: the schema and the first batch are sent, the rest never.
    let messages: Vec<_> = FlightDataEncoderBuilder::new()
        .build(stream::iter(
            integer_batches(3, 128 << 10).into_iter().map(Ok),
        ))
        .try_collect()
        .await
        .expect("encode");
    let (sender, sent) = futures::channel::mpsc::unbounded();
    for message in messages.into_iter().take(2) {
        sender
            .unbounded_send(Ok::<_, FlightError>(message))
            .unwrap();
    }
    let mut flight = instance.flight().await;
    let put = tokio::spawn(async move { flight.do_put(sent.boxed()).await.map(drop) });
    // The first batch reaches the store while the stream is still open.
    let deadline = Instant::now() + Duration::from_secs(60);
    while footprint(&ipc).1 < before.1 + (1 << 20) {
        assert!(
            Instant::now() < deadline,
            "the first batch was not stored before the stream ended: the put buffers its stream"
        );
        assert!(
            !put.is_finished(),
            "the put ended with its stream still open"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The client goes away mid-stream: what was stored goes too.
    put.abort();
    let _ = put.await;
    drop(sender);
    let deadline = Instant::now() + Duration::from_secs(60);
    while footprint(&ipc) != before {
        assert!(
            Instant::now() < deadline,
            "a cut put left {:?} behind (before: {before:?})",
            footprint(&ipc)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    instance.stop();
}
