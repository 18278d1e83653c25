//! Cluster metadata: one conformance suite run against both `MetaStore` backends, then
//! instances sharing a real etcd: persisted objects, names, global objects, faults.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use vineyard_core::cluster::{
    ClusterEvent, EtcdMetaStore, InstanceInfo, LocalMetaStore, MetaStore,
};
use vineyard_core::{Code, Error, IpcClient, ObjectID, ObjectMeta};

use crate::etcd::EtcdProcess;
use vineyard_test_harness::TestServer;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn info(socket: &str) -> InstanceInfo {
    InstanceInfo {
        instance_id: 0,
        hostname: "test-host".into(),
        ipc_socket: socket.into(),
        rpc_endpoint: "127.0.0.1:0".into(),
        timestamp: 1,
    }
}

fn tree(typename: &str) -> serde_json::Map<String, Value> {
    let mut meta = ObjectMeta::with_typename(typename);
    meta.set_instance_id(0);
    meta.into_map()
}

/// Waits for an event matching `wanted`, failing after 5 s.
async fn expect_event(
    events: &mut tokio::sync::broadcast::Receiver<ClusterEvent>,
    wanted: impl Fn(&ClusterEvent) -> bool,
) {
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return,
                Ok(_) => {}
                Err(error) => panic!("event stream failed: {error}"),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "the expected event never came");
}

/// The behaviours every backend must show, for two members `a` and `b` of one cluster.
async fn conformance(a: Arc<dyn MetaStore>, b: Arc<dyn MetaStore>) {
    let mut b_events = b.subscribe();
    let id_a = a.join(info("/a.sock")).await.unwrap();
    let id_b = b.join(info("/b.sock")).await.unwrap();
    assert_ne!(id_a, id_b, "instance ids are unique in the cluster");
    let view = b.view().await.unwrap();
    assert_eq!(view.instances[&id_a].ipc_socket, "/a.sock");
    assert_eq!(view.instances[&id_b].instance_id, id_b);

    // Publish on a: b sees the event, a consistent fetch and the view.
    let object = ObjectID(0x1234);
    a.publish(vec![(object, tree("vineyard::Array<double>"))])
        .await
        .unwrap();
    expect_event(&mut b_events, |event| {
        matches!(event, ClusterEvent::ObjectPublished(id, published) if *id == object && published.owner == id_a)
    })
    .await;
    let fetched = b.fetch(object).await.unwrap().expect("published object");
    assert_eq!(fetched.tree["typename"], "vineyard::Array<double>");
    assert_eq!(b.view().await.unwrap().objects[&object].owner, id_a);
    assert!(b.fetch(ObjectID(0x9999)).await.unwrap().is_none());

    // Names are shared both ways.
    b.put_name("shared-name", object).await.unwrap();
    assert_eq!(a.view().await.unwrap().names["shared-name"], object);
    assert_eq!(a.fetch_name("shared-name").await.unwrap(), Some(object));
    assert_eq!(a.fetch_name("no-such-name").await.unwrap(), None);
    b.drop_name("shared-name").await.unwrap();
    assert!(!a.view().await.unwrap().names.contains_key("shared-name"));

    // Any member may withdraw an object.
    b.withdraw(vec![object]).await.unwrap();
    expect_event(&mut b_events, |event| {
        *event == ClusterEvent::ObjectWithdrawn(object)
    })
    .await;
    assert!(a.fetch(object).await.unwrap().is_none());

    // A member that leaves takes its records with it.
    let second = ObjectID(0x5678);
    a.publish(vec![(second, tree("vineyard::Pair"))])
        .await
        .unwrap();
    a.leave().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let view = b.view().await.unwrap();
        if !view.instances.contains_key(&id_a) && !view.objects.contains_key(&second) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a's records outlived its leaving"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn local_backend_conforms() {
    runtime().block_on(async {
        let cluster = LocalMetaStore::new();
        let other = cluster.member();
        conformance(Arc::new(cluster), Arc::new(other)).await;
    });
}

#[test]
fn etcd_backend_conforms() {
    let etcd = EtcdProcess::start();
    runtime().block_on(async {
        let a = EtcdMetaStore::connect(&etcd.endpoint(), "conformance")
            .await
            .unwrap();
        let b = EtcdMetaStore::connect(&etcd.endpoint(), "conformance")
            .await
            .unwrap();
        conformance(Arc::new(a), Arc::new(b)).await;
    });
}

#[test]
fn unreachable_etcd_fails_fast_with_a_clear_error() {
    let started = Instant::now();
    let error = runtime()
        .block_on(EtcdMetaStore::connect("http://127.0.0.1:1", "x"))
        .err()
        .expect("nothing listens on port 1");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(error.code(), Code::EtcdError);
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
}

/// An instance sharing metadata through the etcd at `endpoint`.
fn instance(endpoint: &str) -> TestServer {
    let endpoint = endpoint.to_string();
    TestServer::builder()
        .cluster(move |runtime| {
            let store = runtime
                .block_on(EtcdMetaStore::connect(&endpoint, "it"))
                .expect("etcd answers");
            Arc::new(store)
        })
        .start()
}

/// An array-like object with one blob member, made on `client`'s instance.
fn put_array(client: &IpcClient, bytes: &[u8]) -> ObjectMeta {
    let blob = client.put_bytes(bytes).unwrap();
    let mut meta = ObjectMeta::with_typename("vineyard::Array<uint8>");
    meta.add_member_id("buffer_", blob);
    meta.insert("size_", bytes.len() as u64);
    client.create_metadata(&meta).unwrap()
}

fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn instances_share_persisted_objects_names_and_global_objects() {
    let etcd = EtcdProcess::start();
    let one = instance(&etcd.endpoint());
    let two = instance(&etcd.endpoint());
    let (client1, client2) = (one.client(), two.client());
    assert_ne!(client1.instance_id(), client2.instance_id());
    let members = client1.cluster_info().unwrap();
    assert_eq!(members.len(), 2, "{members:?}");

    let first = put_array(&client1, &[0; 8]);
    let second = put_array(&client2, &[1; 4]);
    let (id1, id2) = (first.id().unwrap(), second.id().unwrap());
    // Transient objects stay on their instance.
    assert!(matches!(
        client2.get_metadata(id1),
        Err(Error::ObjectNotExists { .. })
    ));
    client1.persist(id1).unwrap();
    client2.persist(id2).unwrap();
    // Persisted objects are readable everywhere at once (get_data syncs from etcd).
    let seen = client2.get_metadata(id1).unwrap();
    assert_eq!(seen.instance_id(), Some(client1.instance_id()));
    assert_eq!(
        seen.member("buffer_").unwrap().instance_id(),
        Some(client1.instance_id())
    );

    // A pair built on instance 1 from members on 1 and 2 is global and readable from 2.
    let mut pair = ObjectMeta::with_typename("vineyard::Pair");
    pair.add_member("first", first.clone());
    pair.add_member("second", client1.get_metadata(id2).unwrap());
    let pair = client1.create_metadata(&pair).unwrap();
    let pair_id = pair.id().unwrap();
    let from_two = client2.get_metadata(pair_id).unwrap();
    assert!(from_two.is_global());
    assert_eq!(from_two.member("first").unwrap().id(), Some(id1));
    assert_eq!(from_two.member("second").unwrap().id(), Some(id2));
    assert_eq!(
        from_two
            .member("second")
            .unwrap()
            .member("buffer_")
            .unwrap()
            .nbytes(),
        4
    );

    // Names are cluster-wide.
    client1.put_name(id1, "zeros").unwrap();
    assert_eq!(client2.get_name("zeros", true).unwrap(), id1);

    // A member still used by the global pair survives a delete from the other instance...
    client2.delete(&[id1], false, true).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(client1.exists(id1).unwrap());
    assert!(client2.exists(id1).unwrap());
    // ...and deleting the pair (from instance 2) reaches instance 1, where it lives.
    client2.delete(&[pair_id], false, true).unwrap();
    eventually("the pair to vanish on its own instance", || {
        (!client1.exists(pair_id).unwrap()).then_some(())
    });
    eventually("the pair to vanish everywhere", || {
        (!client2.exists(pair_id).unwrap()).then_some(())
    });
}

#[test]
fn etcd_outage_keeps_local_work_going_and_recovers() {
    let mut etcd = EtcdProcess::start();
    let one = instance(&etcd.endpoint());
    let two = instance(&etcd.endpoint());
    let (client1, client2) = (one.client(), two.client());
    let before = put_array(&client1, b"before");
    client1.persist(before.id().unwrap()).unwrap();

    etcd.kill();
    // Local work goes on.
    let during = put_array(&client1, b"during the outage");
    let blob = client1
        .get_blob(during.member("buffer_").unwrap().id().unwrap())
        .unwrap();
    assert_eq!(&blob[..], b"during the outage");
    // Cluster operations fail fast, with a clear error (the first may need to notice).
    let error = eventually("persist to fail fast", || {
        let started = Instant::now();
        match client1.persist(during.id().unwrap()) {
            Err(error) if started.elapsed() < Duration::from_secs(3) => Some(error),
            _ => None,
        }
    });
    assert_eq!(error.code(), Code::EtcdError, "{error}");
    assert!(error.to_string().contains("etcd"), "{error}");
    assert!(
        !client1.is_persisted(during.id().unwrap()).unwrap(),
        "a failed persist is undone"
    );

    etcd.restart();
    // The instance reconnects, re-registers and re-syncs by itself.
    eventually("persist to work again", || {
        client1.persist(during.id().unwrap()).ok()
    });
    let seen = eventually("both objects to be visible from instance 2", || {
        let ids = [before.id().unwrap(), during.id().unwrap()];
        client2.get_metadatas(&ids).ok()
    });
    assert_eq!(seen.len(), 2);
    assert_eq!(client2.cluster_info().unwrap().len(), 2);
}

#[test]
fn a_crashed_instance_leaves_the_cluster() {
    let etcd = EtcdProcess::start();
    let one = instance(&etcd.endpoint());
    let doomed = instance(&etcd.endpoint());
    let remote = doomed.client();
    let object = put_array(&remote, b"on the instance about to die");
    remote.persist(object.id().unwrap()).unwrap();
    let client1 = one.client();
    assert!(client1.get_metadata(object.id().unwrap()).is_ok());
    assert_eq!(client1.cluster_info().unwrap().len(), 2);

    doomed.crash();
    // Its lease expires: its registration and objects leave the view; instance 1 carries on.
    eventually("the crashed instance to leave the view", || {
        (client1.cluster_info().unwrap().len() == 1).then_some(())
    });
    eventually("its objects to vanish", || {
        (!client1.exists(object.id().unwrap()).unwrap()).then_some(())
    });
    let local = put_array(&client1, b"still working");
    client1.persist(local.id().unwrap()).unwrap();
}
