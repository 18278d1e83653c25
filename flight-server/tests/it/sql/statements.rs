//! Queries, prepared statements, stored results, and plain Flight beside Flight SQL.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_flight::Ticket;
use futures::TryStreamExt;

use super::*;
use crate::fixture::{flight_instance, flight_instance_with_token, FlightClients};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_stream_their_rows() {
    let instance = flight_instance_with_token("s3cret");
    put_named(
        &instance.client(),
        "sales",
        &[sample(0, 500), sample(500, 500)],
    );
    let mut client = sql_client(instance.endpoint(), Some("s3cret")).await;

    let grouped = query(
        &mut client,
        "SELECT k, sum(v) AS total, count(*) AS n FROM sales GROUP BY k ORDER BY k",
    )
    .await
    .unwrap();
    assert_eq!(i64s(&grouped, "k"), (0..10).collect::<Vec<_>>());
    assert_eq!(i64s(&grouped, "n"), vec![100; 10]);
    let expected: Vec<f64> = (0..10)
        .map(|k| (0..1000).filter(|i| i % 10 == k).map(|i| i as f64).sum())
        .collect();
    assert_eq!(f64s(&grouped, "total"), expected);

    let top = query(&mut client, "SELECT s FROM sales ORDER BY v DESC LIMIT 3")
        .await
        .unwrap();
    assert_eq!(strings(&top, "s"), ["s999", "s998", "s997"]);
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_take_parameters() {
    let instance = flight_instance();
    put_named(&instance.client(), "sales", &[sample(0, 1000)]);
    let mut client = sql_client(instance.endpoint(), None).await;

    let mut statement = client
        .prepare(
            "SELECT count(*) AS n FROM sales WHERE k = ? AND v < ?".into(),
            None,
        )
        .await
        .unwrap();
    let parameters = statement.parameter_schema().unwrap().clone();
    assert_eq!(parameters.fields().len(), 2, "{parameters:?}");
    assert_eq!(statement.dataset_schema().unwrap().field(0).name(), "n");
    for (k, below, expected) in [(3_i64, 500.0, 50_i64), (4, 100.0, 10)] {
        let binding = RecordBatch::try_from_iter([
            ("k", Arc::new(Int64Array::from(vec![k])) as ArrayRef),
            (
                "below",
                Arc::new(Float64Array::from(vec![below])) as ArrayRef,
            ),
        ])
        .unwrap();
        statement.set_parameters(binding).unwrap();
        let info = statement.execute().await.unwrap();
        let rows = fetch(&mut client, info).await.unwrap();
        assert_eq!(i64s(&rows, "n"), [expected], "k = {k}, v < {below}");
    }
    statement.close().await.unwrap();
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_as_stores_and_drop_table_drops() {
    let instance = flight_instance();
    let ipc = instance.client();
    put_named(&ipc, "sales", &[sample(0, 100)]);
    let mut client = sql_client(instance.endpoint(), None).await;

    // As a query: the table is stored by get_flight_info, even if nobody fetches.
    client
        .execute(
            "CREATE TABLE odd AS SELECT * FROM sales WHERE k % 2 = 1".into(),
            None,
        )
        .await
        .unwrap();
    let odd = ipc.get_name("odd", false).unwrap();
    assert_eq!(
        ipc.get_metadata(odd).unwrap().typename(),
        Some("vineyard::Table")
    );
    // Plain Flight reads it like any table.
    let mut remote = instance.remote().await;
    let (_, batches) = remote.get_batches("odd").await.unwrap();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 50);

    // As an update.
    let count = client
        .execute_update("DROP TABLE odd".into(), None)
        .await
        .unwrap();
    assert_eq!(count, -1);
    assert!(ipc.get_name("odd", false).is_err());
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_flight_works_beside_flight_sql() {
    let instance = flight_instance();
    put_named(&instance.client(), "sales", &[sample(0, 10)]);
    let mut flight = instance.flight().await;
    let plain: Vec<RecordBatch> = flight
        .do_get(Ticket::new("sales"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(plain.iter().map(RecordBatch::num_rows).sum::<usize>(), 10);
    let actions: Vec<String> = flight
        .list_actions()
        .await
        .unwrap()
        .map_ok(|action| action.r#type)
        .try_collect()
        .await
        .unwrap();
    assert!(actions.contains(&"get_meta".to_string()), "{actions:?}");
    assert!(
        actions.contains(&"CreatePreparedStatement".to_string()),
        "{actions:?}"
    );

    let mut client = sql_client(instance.endpoint(), None).await;
    let rows = query(&mut client, "SELECT sum(v) AS total FROM sales")
        .await
        .unwrap();
    assert_eq!(f64s(&rows, "total"), [45.0]);
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_have_schemas_and_polls_without_running() {
    use arrow_flight::sql::{CommandStatementQuery, ProstMessageExt};
    use arrow_flight::FlightDescriptor;
    use prost::Message;

    let instance = flight_instance();
    put_named(&instance.client(), "sales", &[sample(0, 10)]);
    let command = |query: &str| {
        let command = CommandStatementQuery {
            query: query.into(),
            transaction_id: None,
        };
        FlightDescriptor::new_cmd(command.as_any().encode_to_vec())
    };
    let mut flight = instance.flight().await;
    let schema = flight
        .get_schema(command("SELECT k, v * 2 AS twice FROM sales"))
        .await
        .unwrap();
    let names: Vec<&str> = schema
        .fields()
        .iter()
        .map(|field| field.name().as_str())
        .collect();
    assert_eq!(names, ["k", "twice"]);
    // get_schema plans a CREATE TABLE without storing anything.
    let created = flight
        .get_schema(command("CREATE TABLE copy AS SELECT * FROM sales"))
        .await
        .unwrap();
    assert!(created.fields().is_empty());
    assert!(instance.client().get_name("copy", false).is_err());

    let polled = flight
        .poll_flight_info(command("SELECT count(*) AS n FROM sales"))
        .await
        .unwrap();
    let info = polled.info.expect("the first poll has the flight");
    let rows = fetch(&mut sql_client(instance.endpoint(), None).await, info)
        .await
        .unwrap();
    assert_eq!(i64s(&rows, "n"), [10]);
    instance.stop();
}
