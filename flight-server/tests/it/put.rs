//! `do_put`: streams become tables (or blobs); malformed streams leave nothing behind.

use arrow::compute::concat_batches;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::{FlightData, FlightDescriptor, PutResult};
use futures::{stream, TryStreamExt};
use tonic::Code;
use vineyard_flight_server::Error;
use vineyard_test_harness::TestServer;

use crate::data::{every_type, every_type_schema, numbers};
use crate::fixture::{flight_instance, FlightClients};

/// The encoded messages of `batches` under `descriptor`.
async fn messages(
    descriptor: Option<FlightDescriptor>,
    batches: Vec<arrow::array::RecordBatch>,
) -> Vec<FlightData> {
    FlightDataEncoderBuilder::new()
        .with_flight_descriptor(descriptor)
        .build(stream::iter(batches.into_iter().map(Ok)))
        .try_collect()
        .await
        .expect("encode")
}

/// Sends `messages` as a `do_put`; returns the outcome.
async fn raw_put(
    instance: &TestServer,
    messages: Vec<FlightData>,
) -> Result<Vec<PutResult>, Error> {
    let mut flight = instance.flight().await;
    let results = flight
        .do_put(stream::iter(messages.into_iter().map(Ok::<_, FlightError>)))
        .await?;
    Ok(results.try_collect().await?)
}

/// Objects and bytes in the instance, to check that a failed put left nothing.
fn footprint(instance: &TestServer) -> (usize, u64) {
    let ipc = instance.client();
    let objects = ipc.list_metadatas("*", false, 100_000).expect("list").len();
    (objects, ipc.status().expect("status").memory_usage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_put_over_flight_resolve_locally() {
    let instance = flight_instance();
    let mut remote = instance.remote().await;
    let schema = every_type_schema();
    let batches = vec![every_type(0, 50), every_type(50, 25)];
    let id = remote
        .put_table(schema.clone(), batches.clone(), None)
        .await
        .expect("put_table");

    let ipc = instance.client();
    let meta = ipc.get_metadata(id).expect("stored");
    assert_eq!(meta.typename(), Some("vineyard::Table"));
    let resolved = vineyard_resolvers::resolve(&ipc, &meta).expect("resolves");
    let (got_schema, got) = vineyard_resolvers::to_record_batches(resolved).expect("batches");
    assert_eq!(
        concat_batches(&got_schema, &got).unwrap(),
        concat_batches(&schema, &batches).unwrap()
    );
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_puts_are_persisted_and_named() {
    let instance = flight_instance();
    let mut remote = instance.remote().await;
    let batch = numbers(0, 1000);
    let id = remote
        .put_table(batch.schema(), vec![batch.clone()], Some("numbers"))
        .await
        .expect("named put");
    let ipc = instance.client();
    assert_eq!(ipc.get_name("numbers", false).unwrap(), id);
    assert!(ipc.is_persisted(id).unwrap());
    let (schema, got) = remote.get_batches("numbers").await.expect("by name");
    assert_eq!(concat_batches(&schema, &got).unwrap(), batch);

    // A schema and no batches is an empty table.
    let empty = remote
        .put_table(batch.schema(), vec![], None)
        .await
        .expect("empty put");
    let (schema, got) = remote.get_batches(&empty.to_string()).await.unwrap();
    assert_eq!(schema.fields(), batch.schema().fields());
    assert_eq!(got.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_put_over_flight_become_one_blob() {
    let instance = flight_instance();
    let mut remote = instance.remote().await;
    let ipc = instance.client();
    for size in [0usize, 10, (3 << 20) + 5] {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 256) as u8).collect();
        let id = remote.put_blob(&bytes).await.expect("put_blob");
        assert!(id.is_blob());
        assert_eq!(
            &*ipc.get_blob(id).expect("blob"),
            bytes.as_slice(),
            "{size}"
        );
    }
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_streams_are_refused_and_leave_nothing_behind() {
    let instance = flight_instance();
    let before = footprint(&instance);
    let batch = numbers(0, 100);
    let good = messages(None, vec![batch.clone()]).await;

    let mut cases: Vec<(&str, Vec<FlightData>, &str)> = vec![
        ("empty stream", vec![], "empty"),
        (
            "batch before schema",
            good[1..].to_vec(),
            "malformed do_put stream",
        ),
    ];
    let mut garbage = good.clone();
    garbage[1].data_header = bytes::Bytes::from_static(b"\x01\x02\x03not flatbuffers");
    cases.push(("garbage header", garbage, "malformed do_put stream"));
    let mut truncated = good.clone();
    truncated[1].data_body = truncated[1].data_body.slice(..10);
    cases.push(("truncated body", truncated, "malformed do_put stream"));
    let two = FlightDescriptor::new_path(vec!["a".into(), "b".into()]);
    cases.push((
        "two-element path",
        messages(Some(two), vec![batch.clone()]).await,
        "at most one element",
    ));
    let id_like = FlightDescriptor::new_path(vec!["o0000000000000001".into()]);
    cases.push((
        "name like an id",
        messages(Some(id_like), vec![batch.clone()]).await,
        "looks like an object id",
    ));
    let blob = FlightDescriptor::new_cmd(r#"{"kind": "blob"}"#);
    cases.push((
        "blob of numbers",
        messages(Some(blob), vec![batch.clone()]).await,
        "one binary column",
    ));
    let bad_cmd = FlightDescriptor::new_cmd("{not json");
    cases.push((
        "bad command",
        messages(Some(bad_cmd), vec![batch.clone()]).await,
        "must be JSON",
    ));

    for (case, stream, expected) in cases {
        match raw_put(&instance, stream).await {
            Err(Error::Remote { code, message, .. }) => {
                assert_eq!(code, Code::InvalidArgument, "{case}: {message}");
                assert!(message.contains(expected), "{case}: {message}");
            }
            other => panic!("{case}: expected an InvalidArgument status, got {other:?}"),
        }
    }
    assert_eq!(
        footprint(&instance),
        before,
        "a failed put left something behind"
    );

    // The same connection still works after the refusals.
    let results = raw_put(&instance, good).await.expect("a good put");
    assert_eq!(results.len(), 1);
    instance.stop();
}
