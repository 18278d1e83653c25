//! Flight SQL against real instances, with arrow-flight's `FlightSqlServiceClient`.
//!
//! - `statements`: queries, prepared statements with parameters, `CREATE TABLE ... AS` and
//!   `DROP TABLE` (as queries and as updates), plain Flight beside Flight SQL.
//! - `metadata`: catalogs, schemas, tables with their schemas, table types, `SqlInfo`.
//! - `failures`: the token, bad statements and their statuses, the memory limit, dropped
//!   clients; the instance serves on.
//! - `global`: a table whose parts live on two instances, read where they live.

mod failures;
mod global;
mod metadata;
mod statements;

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::FlightInfo;
use futures::TryStreamExt;
use tonic::transport::Channel;
use vineyard_core::{IpcClient, ObjectID};

/// A Flight SQL client of `endpoint`, with `token` if any.
pub async fn sql_client(endpoint: &str, token: Option<&str>) -> FlightSqlServiceClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{endpoint}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("channel connects");
    let mut client = FlightSqlServiceClient::new(channel);
    if let Some(token) = token {
        client.set_header("authorization", format!("Bearer {token}"));
    }
    client
}

/// Every row of every endpoint of `info`.
pub async fn fetch(
    client: &mut FlightSqlServiceClient<Channel>,
    info: FlightInfo,
) -> Result<Vec<RecordBatch>, FlightError> {
    let mut batches = Vec::new();
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.expect("a ticket");
        let stream = client.do_get(ticket).await?;
        let got: Vec<RecordBatch> = stream.try_collect().await?;
        batches.extend(got);
    }
    Ok(batches)
}

/// Runs `query` and fetches its rows.
pub async fn query(
    client: &mut FlightSqlServiceClient<Channel>,
    query: &str,
) -> Result<Vec<RecordBatch>, FlightError> {
    let info = client.execute(query.to_string(), None).await?;
    fetch(client, info).await
}

/// Rows `start..start + rows`: `k` = i % 10, `v` = i (float), `s` = "s<i>".
pub fn sample(start: i64, rows: i64) -> RecordBatch {
    let range = start..start + rows;
    RecordBatch::try_from_iter([
        (
            "k",
            Arc::new(Int64Array::from_iter_values(range.clone().map(|i| i % 10))) as ArrayRef,
        ),
        (
            "v",
            Arc::new(Float64Array::from_iter_values(
                range.clone().map(|i| i as f64),
            )) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from_iter_values(
                range.map(|i| format!("s{i}")),
            )) as ArrayRef,
        ),
    ])
    .expect("sample")
}

/// Puts `batches` as a table named `name`.
pub fn put_named(client: &IpcClient, name: &str, batches: &[RecordBatch]) -> ObjectID {
    let meta = vineyard_builders::put_table(client, &batches[0].schema(), batches).expect("put");
    let id = meta.id().expect("id");
    client.persist(id).expect("persist");
    client.put_name(id, name).expect("name");
    id
}

/// Column `name` of `batches` as i64s.
pub fn i64s(batches: &[RecordBatch], name: &str) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|batch| {
            let column = batch.column_by_name(name).expect("column");
            column
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("int64")
                .values()
                .to_vec()
        })
        .collect()
}

/// Column `name` of `batches` as f64s.
pub fn f64s(batches: &[RecordBatch], name: &str) -> Vec<f64> {
    batches
        .iter()
        .flat_map(|batch| {
            let column = batch.column_by_name(name).expect("column");
            column
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("float64")
                .values()
                .to_vec()
        })
        .collect()
}

/// Column `name` of `batches` as strings.
pub fn strings(batches: &[RecordBatch], name: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|batch| {
            let column = batch.column_by_name(name).expect("column");
            let column = column.as_any().downcast_ref::<StringArray>().expect("utf8");
            column
                .iter()
                .map(|value| value.unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}
