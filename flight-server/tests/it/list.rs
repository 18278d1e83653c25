//! `list_flights`, `get_flight_info` and `get_schema` describe objects as flights.

use arrow_flight::FlightDescriptor;
use futures::TryStreamExt;
use serde_json::Value;

use crate::data::numbers;
use crate::fixture::{flight_instance, FlightClients};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flight_info_and_schema_describe_an_object() {
    let instance = flight_instance();
    let ipc = instance.client();
    let batches = vec![numbers(0, 10), numbers(10, 5)];
    let meta = vineyard_builders::put_table(&ipc, &batches[0].schema(), &batches).unwrap();
    let id = meta.id().unwrap();
    ipc.persist(id).unwrap();
    ipc.put_name(id, "numbers").unwrap();

    let mut remote = instance.remote().await;
    for label in [id.to_string(), "numbers".to_string()] {
        let descriptor = FlightDescriptor::new_path(vec![label.clone()]);
        let info = remote
            .flight()
            .get_flight_info(descriptor.clone())
            .await
            .expect("get_flight_info");
        assert_eq!(info.total_records, 15);
        assert!(info.total_bytes >= 15 * 8, "{}", info.total_bytes);
        assert_eq!(
            info.flight_descriptor.as_ref().unwrap().path,
            vec![label.clone()]
        );
        let ticket = info.endpoint[0].ticket.as_ref().unwrap().ticket.clone();
        assert_eq!(ticket, id.to_string().as_bytes());
        let app: Value = serde_json::from_slice(&info.app_metadata).unwrap();
        assert_eq!(app["typename"], "vineyard::Table");
        let schema = info.try_decode_schema().expect("schema");
        assert_eq!(schema.fields(), batches[0].schema().fields());
        let schema = remote
            .flight()
            .get_schema(descriptor)
            .await
            .expect("get_schema");
        assert_eq!(schema.fields(), batches[0].schema().fields());
    }
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_flights_filters_by_typename_and_by_name() {
    let instance = flight_instance();
    let ipc = instance.client();
    let table = vineyard_builders::put_table(&ipc, &numbers(0, 0).schema(), &[numbers(0, 3)])
        .unwrap()
        .id()
        .unwrap();
    ipc.persist(table).unwrap();
    ipc.put_name(table, "alpha_table").unwrap();
    let batch = vineyard_builders::put_record_batch(&ipc, &numbers(0, 4))
        .unwrap()
        .id()
        .unwrap();
    ipc.persist(batch).unwrap();
    ipc.put_name(batch, "beta_batch").unwrap();
    let blob = ipc.put_bytes(b"bytes").unwrap();
    let mut odd = vineyard_core::ObjectMeta::with_typename("my::Opaque");
    odd.insert("x", 1);
    ipc.create_metadata(&odd).unwrap();

    let mut remote = instance.remote().await;
    let ids = |infos: &[arrow_flight::FlightInfo]| -> Vec<String> {
        infos
            .iter()
            .map(|info| info.flight_descriptor.as_ref().unwrap().path[0].clone())
            .collect()
    };

    let tables = remote.list_flights("vineyard::Table").await.unwrap();
    assert_eq!(ids(&tables), vec![table.to_string()]);
    // The table's own batches are objects too.
    let batches = ids(&remote.list_flights("vineyard::RecordBatch").await.unwrap());
    assert!(batches.contains(&batch.to_string()), "{batches:?}");
    assert!(!batches.contains(&table.to_string()), "{batches:?}");

    let everything = ids(&remote.list_flights("").await.unwrap());
    assert!(everything.contains(&table.to_string()) && everything.contains(&batch.to_string()));
    assert!(
        !everything.contains(&blob.to_string()),
        "blobs are listed only when asked for"
    );
    assert!(
        remote.list_flights("my::*").await.unwrap().is_empty(),
        "objects that are not Arrow-shaped are not flights"
    );
    let blobs = ids(&remote.list_flights("vineyard::Blob").await.unwrap());
    assert!(blobs.contains(&blob.to_string()));

    let named = remote.list_flights("name:*_table").await.unwrap();
    assert_eq!(ids(&named), vec!["alpha_table".to_string()]);
    assert_eq!(named[0].total_records, 3);
    let all_named = ids(&remote.list_flights("name:").await.unwrap());
    assert_eq!(
        all_named,
        vec!["alpha_table".to_string(), "beta_batch".to_string()]
    );

    let raw: Vec<_> = remote
        .flight()
        .list_flights("name:nothing*")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(raw.is_empty());
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_describes_tables_from_their_trees_without_reading_them() {
    use vineyard_flight_server::FlightService;
    use vineyard_test_harness::TestServer;
    let spill = tempfile::tempdir().expect("spill dir");
    let spill_path = spill.path().to_path_buf();
    let instance = TestServer::builder()
        .rpc(Box::new(FlightService::new()))
        .config(move |config| config.spill_path = Some(spill_path))
        .start();
    let ipc = instance.client();
    // 1 MiB of integers, spilled to disk.
    let rows = 128 << 10;
    let batch = numbers(0, rows);
    let table = vineyard_builders::put_table(&ipc, &batch.schema(), &[batch])
        .unwrap()
        .id()
        .unwrap();
    ipc.persist(table).unwrap();
    ipc.put_name(table, "cold").unwrap();
    ipc.evict(&[table]).unwrap();
    assert!(ipc.is_spilled(table).unwrap(), "the table was not spilled");

    let mut remote = instance.remote().await;
    let listed = remote.list_flights("name:cold").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].total_records, rows as i64);
    let schema = listed[0].clone().try_decode_schema().expect("schema");
    assert_eq!(schema.field(0).name(), "x");
    assert!(
        ipc.is_spilled(table).unwrap(),
        "listing read the table's columns back into memory"
    );
    instance.stop();
}
