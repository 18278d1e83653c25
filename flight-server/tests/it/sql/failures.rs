//! The token, bad statements and their statuses, the memory limit: the instance serves on.

use arrow_flight::error::FlightError;
use arrow_flight::sql::{ProstMessageExt, TicketStatementQuery};
use arrow_flight::Ticket;
use prost::Message;
use tonic::Code;
use vineyard_core::server::RpcOptions;
use vineyard_core::ObjectMeta;

use super::*;
use crate::fixture::{flight_instance, flight_instance_with_token, FlightClients};
use crate::served::ServedFlight;

/// The call must have failed with status `code` and a message containing `words`.
fn assert_refused(error: FlightError, code: Code, words: &str) {
    let FlightError::Tonic(status) = &error else {
        panic!("expected a status {code:?}: {error}");
    };
    assert_eq!(status.code(), code, "{status}");
    assert!(
        status.message().contains(words),
        "expected {words:?}: {status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flight_sql_call_needs_the_token() {
    let instance = flight_instance_with_token("s3cret");
    put_named(&instance.client(), "sales", &[sample(0, 10)]);
    let mut stranger = sql_client(instance.endpoint(), None).await;
    let refused = Code::Unauthenticated;
    assert_refused(
        stranger.execute("SELECT 1".into(), None).await.unwrap_err(),
        refused,
        "token",
    );
    assert_refused(stranger.get_catalogs().await.unwrap_err(), refused, "token");
    assert_refused(
        stranger.prepare("SELECT 1".into(), None).await.unwrap_err(),
        refused,
        "token",
    );
    assert_refused(
        stranger
            .execute_update("DROP TABLE sales".into(), None)
            .await
            .unwrap_err(),
        refused,
        "token",
    );
    // A ticket made up without asking: refused before it is read.
    let ticket = TicketStatementQuery {
        statement_handle: b"\x01\x08\x00\x00\x00SELECT 1"[..].into(),
    };
    let ticket = Ticket::new(ticket.as_any().encode_to_vec());
    assert_refused(stranger.do_get(ticket).await.unwrap_err(), refused, "token");
    assert!(instance.client().get_name("sales", false).is_ok());

    let mut friend = sql_client(instance.endpoint(), Some("s3cret")).await;
    assert_eq!(
        i64s(
            &query(&mut friend, "SELECT count(*) AS n FROM sales")
                .await
                .unwrap(),
            "n"
        ),
        [10]
    );
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_statements_get_the_status_that_fits() {
    let instance = flight_instance();
    let ipc = instance.client();
    put_named(&ipc, "sales", &[sample(0, 10)]);
    let mut thing = ObjectMeta::with_typename("my::Thing");
    thing.insert("answer", 42);
    let thing = ipc.create_metadata(&thing).unwrap().id().unwrap();
    ipc.persist(thing).unwrap();
    ipc.put_name(thing, "thing").unwrap();
    let mut client = sql_client(instance.endpoint(), None).await;
    let cases: [(&str, Code, &str); 6] = [
        ("SELEC 1", Code::InvalidArgument, "SQL error"),
        ("SELECT * FROM nowhere", Code::NotFound, "nowhere"),
        ("SELECT nope FROM sales", Code::InvalidArgument, "nope"),
        (
            "SELECT * FROM thing",
            Code::InvalidArgument,
            "not Arrow-shaped",
        ),
        ("SELECT s * 2 FROM sales", Code::InvalidArgument, "Utf8"),
        (
            "INSERT INTO sales VALUES (1, 1.0, 'x')",
            Code::Unimplemented,
            "immutable",
        ),
    ];
    for (statement, code, words) in cases {
        let error = query(&mut client, statement).await.unwrap_err();
        assert_refused(error, code, words);
    }
    // A failure while rows stream (a cast of a value that is no number) ends the stream
    // with its status.
    let error = query(&mut client, "SELECT CAST(s AS BIGINT) FROM sales")
        .await
        .unwrap_err();
    assert_refused(error, Code::InvalidArgument, "s0");
    assert_eq!(
        i64s(
            &query(&mut client, "SELECT count(*) AS n FROM sales")
                .await
                .unwrap(),
            "n"
        ),
        [10]
    );
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_the_memory_limit_fails_and_the_next_runs() {
    let instance = flight_instance();
    put_named(&instance.client(), "many", &[sample(0, 200_000)]);
    let served = ServedFlight::start(
        &instance,
        RpcOptions {
            sql_memory_limit: 4 << 20,
            ..RpcOptions::default()
        },
    );
    let mut client = sql_client(served.address(), None).await;
    let error = query(&mut client, "SELECT s, count(*) FROM many GROUP BY s")
        .await
        .unwrap_err();
    assert_refused(error, Code::ResourceExhausted, "--sql_memory_limit");
    let rows = query(&mut client, "SELECT k, count(*) AS n FROM many GROUP BY k")
        .await
        .unwrap();
    assert_eq!(i64s(&rows, "n"), vec![20_000; 10]);
    served.stop().await;
    instance.stop();
}
