//! `--rpc_max_columns` and `--rpc_max_message_size`: a put over either limit is refused with
//! an error that names the flag, and leaves nothing behind; one within them goes through.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StructArray};
use arrow::datatypes::{DataType, Field, Fields, Schema};
use tonic::Code;
use vineyard_core::server::RpcOptions;
use vineyard_flight_server::RemoteClient;

use crate::data::numbers;
use vineyard_test_harness::TestServer;

use crate::fixture::flight_instance;
use crate::served::ServedFlight;

/// A one-row batch of `columns` 64-bit integer columns.
fn wide(columns: usize) -> RecordBatch {
    let fields: Vec<Field> = (0..columns)
        .map(|index| Field::new(format!("c{index}"), DataType::Int64, false))
        .collect();
    let arrays: Vec<ArrayRef> = (0..columns)
        .map(|index| Arc::new(Int64Array::from(vec![index as i64])) as ArrayRef)
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn objects(instance: &TestServer) -> usize {
    instance
        .client()
        .list_metadatas("*", false, 1_000_000)
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_wider_than_max_columns_are_refused_naming_the_flag() {
    let instance = flight_instance();
    let served = ServedFlight::start(
        &instance,
        RpcOptions {
            max_columns: 4,
            ..RpcOptions::default()
        },
    );
    let mut remote = RemoteClient::connect(served.endpoint(), None)
        .await
        .unwrap();
    let fits = wide(4);
    remote
        .put_table(fits.schema(), vec![fits], None)
        .await
        .expect("4 columns are within the limit");
    let before = objects(&instance);

    let too_wide = wide(5);
    let error = remote
        .put_table(too_wide.schema(), vec![too_wide], None)
        .await
        .expect_err("5 columns are over the limit");
    assert_eq!(error.code(), Code::InvalidArgument, "{error}");
    let message = error.to_string();
    assert!(message.contains("--rpc_max_columns"), "{message}");
    assert!(message.contains("5 columns"), "{message}");

    // A struct column counts with its children: 1 + 2 + 2 fields.
    let child: ArrayRef = Arc::new(Int64Array::from(vec![1]));
    let pair = StructArray::from(vec![
        (
            Arc::new(Field::new("a", DataType::Int64, false)),
            child.clone(),
        ),
        (
            Arc::new(Field::new("b", DataType::Int64, false)),
            child.clone(),
        ),
    ]);
    let fields = Fields::from(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("b", DataType::Int64, false),
    ]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Int64, false),
        Field::new("pair", DataType::Struct(fields), false),
        Field::new("y", DataType::Int64, false),
    ]));
    let nested =
        RecordBatch::try_new(schema.clone(), vec![child.clone(), Arc::new(pair), child]).unwrap();
    let error = remote
        .put_table(schema, vec![nested], None)
        .await
        .expect_err("5 fields counting the nested ones");
    assert!(error.to_string().contains("--rpc_max_columns"), "{error}");
    assert_eq!(objects(&instance), before, "a refused put stored something");
    served.stop().await;
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_over_max_message_size_are_refused_naming_the_flag() {
    let instance = flight_instance();
    let served = ServedFlight::start(
        &instance,
        RpcOptions {
            max_message_size: 1 << 20,
            ..RpcOptions::default()
        },
    );
    let mut remote = RemoteClient::connect(served.endpoint(), None)
        .await
        .unwrap();
    // 512 KiB batches travel as one message each; 2 MiB ones do not fit in 1 MiB.
    let small = numbers(0, 64 << 10);
    remote
        .put_table(small.schema(), vec![small.clone(), small], None)
        .await
        .expect("messages within the limit");
    let before = objects(&instance);

    let large = numbers(0, 256 << 10);
    let error = remote
        .put_table(large.schema(), vec![large], None)
        .await
        .expect_err("a 2 MiB message is over the limit");
    assert_eq!(error.code(), Code::InvalidArgument, "{error}");
    let message = error.to_string();
    assert!(message.contains("--rpc_max_message_size"), "{message}");
    assert!(message.contains("1048576 bytes"), "{message}");
    assert_eq!(objects(&instance), before, "a refused put stored something");
    served.stop().await;
    instance.stop();
}
