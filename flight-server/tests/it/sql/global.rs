//! A table whose parts live on two instances of one cluster, each part read where it lives.

use std::sync::Arc;

use vineyard_core::cluster::LocalMetaStore;
use vineyard_core::ObjectMeta;
use vineyard_flight_server::FlightService;
use vineyard_resolvers::layout::{RECORD_BATCH, TABLE};
use vineyard_test_harness::TestServer;

use super::*;
use crate::fixture::{FlightClients, TEST_SIZE};

/// An instance of `cluster` serving Flight.
fn member(cluster: &LocalMetaStore) -> TestServer {
    let store = cluster.member();
    TestServer::builder()
        .size(TEST_SIZE)
        .cluster(move |_| Arc::new(store))
        .rpc(Box::new(FlightService::new()))
        .start()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_held_by_other_instances_are_read_from_them() {
    let cluster = LocalMetaStore::new();
    let (one, two) = (member(&cluster), member(&cluster));
    let (ipc_one, ipc_two) = (one.client(), two.client());

    // One batch on each instance, published so that the other sees it.
    let far = vineyard_builders::put_record_batch(&ipc_one, &sample(0, 300)).unwrap();
    let far = far.id().unwrap();
    ipc_one.persist(far).unwrap();
    let near = vineyard_builders::put_record_batch(&ipc_two, &sample(300, 200)).unwrap();
    let schema = near.member(RECORD_BATCH.schema).unwrap().id().unwrap();
    let near = near.id().unwrap();

    // The table, made on the second instance over both batches: a global object.
    let mut table = ObjectMeta::with_typename(TABLE.typename);
    table.add_member_id(TABLE.schema, schema);
    table.add_member_id(&TABLE.partitions.at(0), far);
    table.add_member_id(&TABLE.partitions.at(1), near);
    table.insert(TABLE.batch_num, 2);
    table.insert(&TABLE.partitions.size(), 2);
    table.insert(TABLE.num_rows, 500);
    table.insert(TABLE.num_columns, 3);
    let table = ipc_two.create_metadata(&table).unwrap().id().unwrap();
    ipc_two.persist(table).unwrap();
    ipc_two.put_name(table, "global").unwrap();

    for instance in [&two, &one] {
        let mut client = sql_client(instance.endpoint(), None).await;
        let rows = query(
            &mut client,
            "SELECT count(*) AS n, sum(v) AS total FROM global WHERE k < 5",
        )
        .await
        .unwrap();
        assert_eq!(i64s(&rows, "n"), [250]);
        let expected: f64 = (0..500).filter(|i| i % 10 < 5).map(|i| i as f64).sum();
        assert_eq!(f64s(&rows, "total"), [expected]);
        let ordered = query(
            &mut client,
            "SELECT s FROM global ORDER BY v LIMIT 2 OFFSET 299",
        )
        .await
        .unwrap();
        assert_eq!(strings(&ordered, "s"), ["s299", "s300"]);
    }
    one.stop();
    two.stop();
}
