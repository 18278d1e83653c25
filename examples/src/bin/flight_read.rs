//! Reads a stored object over Arrow Flight with arrow-flight's own `FlightClient`: nothing of
//! vineyard is needed on the reading side.
//!
//! Usage: `flight_read <host:port> <object id or name> [token]`, e.g. with the endpoint that
//! `vineyardd` logs (`serving Arrow Flight endpoint=127.0.0.1:9600`):
//!
//! ```text
//! cargo run -p vineyard-examples --bin flight_read -- 127.0.0.1:9600 my_table
//! ```
//!
//! Prints the flight's description (`get_flight_info`), then reads it (`do_get`) and prints
//! the schema, the row count and the first rows of each column.

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::{FlightClient, FlightDescriptor, Ticket};
use futures::TryStreamExt;
use tonic::transport::Endpoint;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(endpoint), Some(target)) = (args.next(), args.next()) else {
        eprintln!("usage: flight_read <host:port> <object id or name> [token]");
        std::process::exit(2);
    };
    let token = args
        .next()
        .or_else(|| std::env::var("VINEYARD_RPC_TOKEN").ok());

    let channel = Endpoint::from_shared(format!("http://{endpoint}"))?
        .connect()
        .await?;
    // Tables stream in messages of about 2 MiB; blobs and single large values can be larger
    // than tonic's default 4 MiB limit.
    let inner = FlightServiceClient::new(channel).max_decoding_message_size(usize::MAX);
    let mut client = FlightClient::new_from_inner(inner);
    if let Some(token) = token {
        client.add_header("authorization", &format!("Bearer {token}"))?;
    }

    let info = client
        .get_flight_info(FlightDescriptor::new_path(vec![target.clone()]))
        .await?;
    println!(
        "{target}: {} rows, {} bytes, {}",
        info.total_records,
        info.total_bytes,
        String::from_utf8_lossy(&info.app_metadata)
    );

    let ticket = info
        .endpoint
        .first()
        .and_then(|endpoint| endpoint.ticket.clone())
        .unwrap_or_else(|| Ticket::new(target.clone()));
    let mut stream = client.do_get(ticket).await?;
    let mut batches: Vec<RecordBatch> = Vec::new();
    while let Some(batch) = stream.try_next().await? {
        batches.push(batch);
    }
    let schema = stream
        .schema()
        .cloned()
        .ok_or("the stream carried no schema")?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    println!("{rows} rows in {} record batches", batches.len());
    if let Some(first) = batches.iter().find(|batch| batch.num_rows() > 0) {
        let options = FormatOptions::default().with_null("null");
        for (field, column) in schema.fields().iter().zip(first.columns()) {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
            let shown: Vec<String> = (0..first.num_rows().min(5))
                .map(|row| formatter.value(row).to_string())
                .collect();
            let more = if rows > shown.len() { ", ..." } else { "" };
            println!(
                "  {} ({}): [{}{more}]",
                field.name(),
                field.data_type(),
                shown.join(", ")
            );
        }
    }
    Ok(())
}
