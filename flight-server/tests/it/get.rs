//! `do_get` round trips: objects put over IPC, read back over Flight.

use arrow::array::{Array, ArrayRef, BinaryArray, Float64Array, RecordBatch};
use arrow::buffer::Buffer;
use arrow::compute::concat_batches;
use arrow::datatypes::DataType;
use arrow_flight::Ticket;
use futures::TryStreamExt;
use vineyard_resolvers::Tensor;

use crate::data::{every_type, every_type_schema, numbers};
use crate::fixture::{flight_instance, FlightClients};

/// The batches concatenated (Flight may cut batches into smaller messages).
fn concat(batches: &[RecordBatch], schema: &arrow::datatypes::SchemaRef) -> RecordBatch {
    concat_batches(schema, batches).expect("batches concatenate")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_of_every_type_round_trip_by_id_and_name() {
    let instance = flight_instance();
    let ipc = instance.client();
    let schema = every_type_schema();
    let batches = vec![every_type(0, 100), every_type(100, 7), every_type(107, 0)];
    let meta = vineyard_builders::put_table(&ipc, &schema, &batches).expect("put_table");
    let id = meta.id().expect("id");
    ipc.persist(id).expect("persist");
    ipc.put_name(id, "every_type").expect("put_name");
    let expected = concat(&batches, &schema);

    let mut remote = instance.remote().await;
    for target in [id.to_string(), "every_type".to_string()] {
        let (got_schema, got) = remote.get_batches(&target).await.expect("do_get");
        assert_eq!(got_schema.fields(), schema.fields(), "{target}");
        assert_eq!(concat(&got, &got_schema), expected, "{target}");
    }
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_batches_arrays_and_slices_round_trip() {
    let instance = flight_instance();
    let ipc = instance.client();
    let mut remote = instance.remote().await;

    let batch = every_type(5, 64);
    let meta = vineyard_builders::put_record_batch(&ipc, &batch).expect("put_record_batch");
    let (schema, got) = remote
        .get_batches(&meta.id().unwrap().to_string())
        .await
        .expect("batch");
    assert_eq!(concat(&got, &schema), batch);

    // Slices start at an offset into their buffers (bitmaps too: 13 is not a multiple of 8).
    let sliced = batch.slice(13, 29);
    let meta = vineyard_builders::put_record_batch(&ipc, &sliced).expect("put sliced");
    let (schema, got) = remote
        .get_batches(&meta.id().unwrap().to_string())
        .await
        .expect("sliced batch");
    assert_eq!(concat(&got, &schema), sliced);

    for column in batch.columns() {
        let array: ArrayRef = column.slice(3, 40);
        let meta = vineyard_builders::put_array(&ipc, array.as_ref()).expect("put_array");
        let (schema, got) = remote
            .get_batches(&meta.id().unwrap().to_string())
            .await
            .expect("array");
        assert_eq!(schema.fields().len(), 1);
        assert_eq!(schema.field(0).name(), "value");
        let got = concat(&got, &schema);
        assert_eq!(
            got.column(0).as_ref(),
            array.as_ref(),
            "{}",
            array.data_type()
        );
    }

    let empty = numbers(0, 0);
    let meta = vineyard_builders::put_record_batch(&ipc, &empty).expect("put empty");
    let (schema, got) = remote
        .get_batches(&meta.id().unwrap().to_string())
        .await
        .expect("empty batch");
    assert_eq!(schema, empty.schema());
    assert_eq!(got.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_tables_stream_in_several_messages() {
    let instance = flight_instance();
    let ipc = instance.client();
    // 40 MiB in one batch: more than one gRPC message's worth.
    let batch = numbers(0, 5 << 20);
    let meta =
        vineyard_builders::put_table(&ipc, &batch.schema(), std::slice::from_ref(&batch)).unwrap();
    // tonic's default limit is 4 MiB a message: messages stay within it.
    let mut flight = instance.flight_with_default_limits().await;
    let stream = flight
        .do_get(Ticket::new(meta.id().unwrap().to_string()))
        .await
        .expect("do_get");
    let got: Vec<RecordBatch> = stream.try_collect().await.expect("stream");
    assert!(got.len() > 1, "one message of 40 MiB");
    assert_eq!(concat(&got, &batch.schema()), batch);

    let blob = ipc.put_bytes(&vec![7u8; 9 << 20]).unwrap();
    let stream = flight
        .do_get(Ticket::new(format!("blob:{blob}")))
        .await
        .expect("do_get blob");
    let chunks: Vec<RecordBatch> = stream.try_collect().await.expect("blob stream");
    assert!(chunks.len() >= 5);

    // A client that accepts large messages may ask for the blob in rows of up to N bytes.
    let mut large = instance.flight().await;
    for (chunk, rows) in [
        (16 << 20, vec![9 << 20]),
        (4 << 20, vec![4 << 20, 4 << 20, 1 << 20]),
    ] {
        let stream = large
            .do_get(Ticket::new(format!("blob:{blob}?chunk={chunk}")))
            .await
            .expect("do_get blob in large chunks");
        let got: Vec<RecordBatch> = stream.try_collect().await.expect("blob stream");
        let received: Vec<Vec<u8>> = got
            .iter()
            .flat_map(|batch| {
                let values = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<BinaryArray>()
                    .unwrap();
                values
                    .iter()
                    .map(|row| row.unwrap().to_vec())
                    .collect::<Vec<_>>()
            })
            .collect();
        let lengths: Vec<usize> = received.iter().map(Vec::len).collect();
        assert_eq!(lengths, rows, "chunk={chunk}");
        assert!(received.iter().flatten().all(|&byte| byte == 7));
    }
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tensors_read_as_a_value_column_with_their_shape() {
    let instance = flight_instance();
    let ipc = instance.client();
    let values: Vec<f64> = (0..24).map(f64::from).collect();
    let tensor = Tensor {
        shape: vec![2, 3, 4],
        data_type: DataType::Float64,
        values: Buffer::from_vec(values.clone()),
        fortran_order: false,
    };
    let meta = vineyard_builders::put_tensor(&ipc, &tensor).expect("put_tensor");
    let mut remote = instance.remote().await;
    let (schema, got) = remote
        .get_batches(&meta.id().unwrap().to_string())
        .await
        .expect("tensor");
    let shape = schema
        .metadata()
        .get("vineyard.shape")
        .expect("shape in the schema metadata");
    assert_eq!(shape.replace(' ', ""), "[2,3,4]");
    let got = concat(&got, &schema);
    let column = got.column(0);
    assert_eq!(column.as_ref(), &Float64Array::from(values) as &dyn Array);
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_stream_their_bytes_in_chunks() {
    let instance = flight_instance();
    let ipc = instance.client();
    let mut remote = instance.remote().await;
    for size in [0usize, 1, 4096, (5 << 20) + 3] {
        let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let id = ipc.put_bytes(&bytes).expect("put_bytes");
        assert_eq!(
            remote.get_blob(id).await.expect("get_blob"),
            bytes,
            "{size}"
        );
        // The plain id reads the same rows.
        let (schema, batches) = remote.get_batches(&id.to_string()).await.expect("by id");
        assert_eq!(schema.field(0).data_type(), &DataType::Binary);
        let joined: Vec<u8> = batches
            .iter()
            .flat_map(|batch| {
                let values = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::BinaryArray>()
                    .unwrap()
                    .clone();
                (0..values.len())
                    .flat_map(move |row| values.value(row).to_vec())
                    .collect::<Vec<u8>>()
            })
            .collect();
        assert_eq!(joined, bytes, "{size}");
    }
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_a_delete_while_streaming() {
    let instance = flight_instance();
    let ipc = instance.client();
    let batch = numbers(0, 1 << 20);
    let meta = vineyard_builders::put_record_batch(&ipc, &batch).expect("put_record_batch");
    let id = meta.id().unwrap();
    let mut flight = instance.flight().await;
    let mut stream = flight
        .do_get(Ticket::new(id.to_string()))
        .await
        .expect("do_get");
    let first = stream.try_next().await.expect("first batch").expect("some");
    ipc.delete(&[id], true, true).expect("delete");
    let mut got = vec![first];
    while let Some(batch) = stream.try_next().await.expect("rest") {
        got.push(batch);
    }
    assert_eq!(concat(&got, &batch.schema()), batch);
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_cpp_clients_get_larger_messages() {
    let instance = flight_instance();
    let ipc = instance.client();
    let batch = numbers(0, 5 << 20);
    let meta = vineyard_builders::put_record_batch(&ipc, &batch).unwrap();
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", instance.endpoint()))
            .unwrap()
            .user_agent("grpc-c++/1.70.0 grpc-c/45.0.0 (linux; chttp2)")
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut flight = arrow_flight::FlightClient::new_from_inner(
        arrow_flight::flight_service_client::FlightServiceClient::new(channel)
            .max_decoding_message_size(usize::MAX),
    );
    let got: Vec<RecordBatch> = flight
        .do_get(Ticket::new(meta.id().unwrap().to_string()))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    // 40 MiB in messages of about 16 MiB (2 MiB for other clients).
    assert!((2..=4).contains(&got.len()), "{} messages", got.len());
    assert_eq!(concat(&got, &batch.schema()), batch);
    instance.stop();
}
