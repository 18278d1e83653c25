//! Token auth: every call carries `authorization: Bearer <token>` or is refused.

use arrow_flight::{Action, Criteria, FlightDescriptor, Ticket};
use futures::TryStreamExt;
use tonic::Code;
use vineyard_flight_server::{Error, RemoteClient};

use crate::fixture::{flight_instance_with_token, FlightClients};

fn unauthenticated<T: std::fmt::Debug>(outcome: Result<T, Error>, expected: &str) {
    match outcome {
        Err(Error::Remote {
            code: Code::Unauthenticated,
            message,
            ..
        }) => assert!(message.contains(expected), "{message}"),
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_the_token_are_refused_on_every_method() {
    let instance = flight_instance_with_token("s3cret");
    let ipc = instance.client();
    let id = ipc.put_bytes(b"payload").unwrap();
    let mut flight = instance.flight().await;
    let expected = "requires a token";
    unauthenticated(
        flight
            .do_get(Ticket::new(format!("blob:{id}")))
            .await
            .map(drop)
            .map_err(Error::from),
        expected,
    );
    unauthenticated(
        flight
            .get_flight_info(FlightDescriptor::new_path(vec![id.to_string()]))
            .await
            .map_err(Error::from),
        expected,
    );
    unauthenticated(
        flight
            .get_schema(FlightDescriptor::new_path(vec![id.to_string()]))
            .await
            .map_err(Error::from),
        expected,
    );
    unauthenticated(
        flight
            .list_flights(Criteria::default().expression)
            .await
            .map(drop)
            .map_err(Error::from),
        expected,
    );
    unauthenticated(
        flight
            .do_action(Action::new("status", ""))
            .await
            .map(drop)
            .map_err(Error::from),
        expected,
    );
    unauthenticated(
        flight.list_actions().await.map(drop).map_err(Error::from),
        expected,
    );
    let put = flight
        .do_put(futures::stream::empty())
        .await
        .map_err(Error::from);
    let put = match put {
        Ok(results) => results
            .try_collect::<Vec<_>>()
            .await
            .map(drop)
            .map_err(Error::from),
        Err(error) => Err(error),
    };
    unauthenticated(put, expected);
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_are_refused_and_the_right_one_admitted() {
    let instance = flight_instance_with_token("s3cret");
    let mut wrong = RemoteClient::connect(instance.endpoint(), Some("guess"))
        .await
        .unwrap();
    unauthenticated(wrong.status().await, "not the one");

    let mut malformed = instance.flight().await;
    malformed
        .add_header("authorization", "Basic czNjcmV0")
        .unwrap();
    unauthenticated(
        malformed
            .do_action(Action::new("status", ""))
            .await
            .map(drop)
            .map_err(Error::from),
        "malformed",
    );

    let mut right = instance.remote().await;
    let status = right.status().await.expect("admitted");
    assert_eq!(status.instance_id, instance.client().instance_id());
    instance.stop();
}
