//! A query through Flight SQL with arrow-flight's own `FlightSqlServiceClient`: any Flight
//! SQL client (ADBC, JDBC, arrow-flight) talks to every instance the same way, on its
//! Flight port.
//!
//! Usage: `sql_flight <host:port> <query> [token]`, e.g. with the endpoint that `vineyardd`
//! logs (`serving Arrow Flight endpoint=127.0.0.1:9600`):
//!
//! ```text
//! cargo run -p vineyard-examples --bin sql_flight -- 127.0.0.1:9600 \
//!     "SELECT k, count(*) AS n FROM sales GROUP BY k ORDER BY k"
//! ```
//!
//! Plans the query (`get_flight_info`), then fetches every endpoint's rows (`do_get`) and
//! prints them.

use arrow::array::RecordBatch;
use arrow::util::pretty::print_batches;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use tonic::transport::Endpoint;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(endpoint), Some(query)) = (args.next(), args.next()) else {
        eprintln!("usage: sql_flight <host:port> <query> [token]");
        std::process::exit(2);
    };
    let token = args
        .next()
        .or_else(|| std::env::var("VINEYARD_RPC_TOKEN").ok());

    let channel = Endpoint::from_shared(format!("http://{endpoint}"))?
        .connect()
        .await?;
    let mut client = FlightSqlServiceClient::new(channel);
    if let Some(token) = token {
        client.set_header("authorization", format!("Bearer {token}"));
    }

    let info = client.execute(query, None).await?;
    let mut rows: Vec<RecordBatch> = Vec::new();
    for endpoint in info.endpoint {
        let Some(ticket) = endpoint.ticket else {
            continue;
        };
        rows.extend(client.do_get(ticket).await?.try_collect::<Vec<_>>().await?);
    }
    print_batches(&rows)?;
    Ok(())
}
