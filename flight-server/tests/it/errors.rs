//! Bad tickets, unknown objects and objects that are not Arrow-shaped get clear statuses.

use arrow_flight::{FlightDescriptor, Ticket};
use futures::TryStreamExt;
use serde_json::json;
use tonic::Code;
use vineyard_core::error::STATUS_CODES;
use vineyard_core::{Code as VineyardCode, ObjectMeta};
use vineyard_flight_server::Error;
use vineyard_test_harness::TestServer;

use crate::fixture::{flight_instance, FlightClients};

/// The status a `do_get` of `ticket` fails with.
async fn do_get_error(instance: &TestServer, ticket: impl Into<bytes::Bytes>) -> (Code, String) {
    let (code, _, message) = do_get_error_with_vineyard_code(instance, ticket).await;
    (code, message)
}

/// The status a `do_get` of `ticket` fails with, and the Vineyard status code it carries.
async fn do_get_error_with_vineyard_code(
    instance: &TestServer,
    ticket: impl Into<bytes::Bytes>,
) -> (Code, Option<VineyardCode>, String) {
    let mut flight = instance.flight().await;
    let outcome = match flight.do_get(Ticket::new(ticket)).await {
        Ok(stream) => stream.try_collect::<Vec<_>>().await.map(drop),
        Err(error) => Err(error),
    };
    match outcome.map_err(Error::from) {
        Err(Error::Remote {
            code,
            vineyard,
            message,
        }) => (code, vineyard, message),
        other => panic!("expected an error status, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_their_vineyard_status_code() {
    let instance = flight_instance();
    let (code, vineyard, _) = do_get_error_with_vineyard_code(&instance, "o00000000000abcde").await;
    assert_eq!(
        (code, vineyard),
        (Code::NotFound, Some(VineyardCode::ObjectNotExists))
    );
    let mut remote = instance.remote().await;
    for row in STATUS_CODES
        .iter()
        .filter(|row| row.code != VineyardCode::Ok)
    {
        match remote.debug(json!({ "raise": row.value })).await {
            Err(Error::Remote { vineyard, .. }) => {
                assert_eq!(vineyard, Some(row.code), "{}", row.exception)
            }
            other => panic!("code {} came back as {other:?}", row.value),
        }
    }
    assert_eq!(
        remote.debug(json!({"echo": 1})).await.unwrap(),
        json!({"echo": 1})
    );
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_and_names_are_not_found() {
    let instance = flight_instance();
    let (code, message) = do_get_error(&instance, "o00000000000abcde").await;
    assert_eq!(code, Code::NotFound);
    assert!(message.contains("o00000000000abcde"), "{message}");
    assert!(message.contains("not found"), "{message}");

    let (code, message) = do_get_error(&instance, "no_such_name").await;
    assert_eq!(code, Code::NotFound);
    assert_eq!(message, "name `no_such_name` not found");

    let (code, message) = do_get_error(&instance, "blob:o8000000000012345").await;
    assert_eq!(code, Code::NotFound, "{message}");
    assert!(message.contains("o8000000000012345"), "{message}");

    let mut remote = instance.remote().await;
    let error = remote
        .flight()
        .get_flight_info(FlightDescriptor::new_path(vec!["o00000000000abcde".into()]))
        .await
        .map_err(Error::from)
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Remote {
                code: Code::NotFound,
                ..
            }
        ),
        "{error}"
    );
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_tickets_are_invalid_arguments() {
    let instance = flight_instance();
    for (ticket, expected) in [
        (vec![0xff, 0xfe, 0x00], "not UTF-8"),
        (b"".to_vec(), "empty object reference"),
        (b"   ".to_vec(), "empty object reference"),
        (b"blob:nonsense".to_vec(), "does not name a blob"),
        (b"blob:o0000000000000001".to_vec(), "does not name a blob"),
        (b"blob:o8000000000000001?chunk=1".to_vec(), "?chunk=N"),
    ] {
        let (code, message) = do_get_error(&instance, ticket.clone()).await;
        assert_eq!(code, Code::InvalidArgument, "{ticket:?}: {message}");
        assert!(message.contains(expected), "{ticket:?}: {message}");
    }
    let mut remote = instance.remote().await;
    let error = remote
        .flight()
        .get_schema(FlightDescriptor::new_path(vec!["a".into(), "b".into()]))
        .await
        .map_err(Error::from)
        .unwrap_err();
    assert!(
        matches!(&error, Error::Remote { code: Code::InvalidArgument, message, .. } if message.contains("one object")),
        "{error}"
    );
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_that_are_not_arrow_name_their_typename() {
    let instance = flight_instance();
    let ipc = instance.client();
    let mut meta = ObjectMeta::with_typename("my::Graph<int64>");
    meta.insert("vertices", 10);
    let meta = ipc.create_metadata(&meta).expect("create_metadata");
    let id = meta.id().unwrap();
    let (code, message) = do_get_error(&instance, id.to_string()).await;
    assert_eq!(code, Code::InvalidArgument, "{message}");
    assert!(message.contains("my::Graph<int64>"), "{message}");
    assert!(message.contains(&id.to_string()), "{message}");
    instance.stop();
}
