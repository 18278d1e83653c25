//! `do_action`: the metadata calls, through `RemoteClient` and raw.

use arrow_flight::Action;
use futures::TryStreamExt;
use serde_json::Value;
use tonic::Code;
use vineyard_flight_server::Error;

use crate::data::numbers;
use crate::fixture::{flight_instance, FlightClients};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_calls_round_trip() {
    let instance = flight_instance();
    let ipc = instance.client();
    let mut remote = instance.remote().await;
    let batch = numbers(0, 8);
    let id = remote
        .put_table(batch.schema(), vec![batch], None)
        .await
        .unwrap();

    let meta = remote.get_meta(&id.to_string()).await.expect("get_meta");
    assert_eq!(meta.id(), Some(id));
    assert_eq!(meta.typename(), Some("vineyard::Table"));
    assert_eq!(meta, ipc.get_metadata(id).unwrap());

    let listed = remote
        .list("vineyard::Table", false, 10)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id(), Some(id));

    remote.persist(id).await.expect("persist");
    assert!(ipc.is_persisted(id).unwrap());
    remote.put_name(id, "eight").await.expect("put_name");
    assert_eq!(remote.get_name("eight").await.expect("get_name"), id);
    assert_eq!(remote.get_meta("eight").await.unwrap().id(), Some(id));
    assert_eq!(
        remote.list_names("e*", false, 10).await.unwrap(),
        vec![("eight".to_string(), id)]
    );
    remote.drop_name("eight").await.expect("drop_name");
    match remote.get_name("eight").await {
        Err(Error::Remote {
            code: Code::NotFound,
            message,
            ..
        }) => {
            assert_eq!(message, "name `eight` not found")
        }
        other => panic!("expected NotFound, got {other:?}"),
    }

    let status = remote.status().await.expect("status");
    assert_eq!(status.instance_id, ipc.instance_id());
    assert!(status.memory_usage > 0);

    let deleted = remote.delete(&[id], false, true).await.expect("delete");
    assert!(!deleted.is_empty());
    assert!(!ipc.exists(id).unwrap());
    match remote.get_meta(&id.to_string()).await {
        Err(Error::Remote {
            code: Code::NotFound,
            message,
            ..
        }) => {
            assert!(message.contains(&id.to_string()), "{message}")
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_are_listed_and_bad_ones_refused() {
    let instance = flight_instance();
    let mut flight = instance.flight().await;
    let listed: Vec<String> = flight
        .list_actions()
        .await
        .unwrap()
        .map_ok(|action| action.r#type)
        .try_collect()
        .await
        .unwrap();
    for name in [
        "get_meta",
        "list",
        "list_names",
        "delete",
        "persist",
        "put_name",
        "get_name",
        "drop_name",
        "status",
    ] {
        assert!(listed.contains(&name.to_string()), "{name} in {listed:?}");
    }

    let status: Vec<_> = flight
        .do_action(Action::new("status", ""))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let status: Value = serde_json::from_slice(&status[0]).unwrap();
    assert_eq!(status["rpc_endpoint"], instance.endpoint());

    for (kind, body, expected) in [
        ("explode", "", "unknown action `explode`"),
        ("get_meta", "{", "not JSON"),
        ("get_meta", "[1]", "must be a JSON object"),
        ("get_meta", "{}", "needs {\"id\""),
        ("persist", r#"{"id": "nonsense"}"#, "not an object id"),
        (
            "put_name",
            r#"{"id": "o0000000000000001"}"#,
            "missing field `name`",
        ),
    ] {
        let outcome = flight.do_action(Action::new(kind, body)).await;
        match outcome.map(drop).map_err(Error::from) {
            Err(Error::Remote { code, message, .. }) => {
                assert_eq!(code, Code::InvalidArgument, "{kind} {body}: {message}");
                assert!(message.contains(expected), "{kind} {body}: {message}");
            }
            other => panic!("{kind} {body}: expected InvalidArgument, got {other:?}"),
        }
    }
    instance.stop();
}
