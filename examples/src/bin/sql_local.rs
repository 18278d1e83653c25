//! SQL in this process over a running instance: a DataFusion `SessionContext` whose catalog
//! `vineyard` is the instance (`vineyard-sql`). Tables are read straight from the shared
//! memory; nothing is copied and nothing goes through the instance but metadata.
//!
//! Usage: `sql_local <socket> [query]`, e.g. after Python put a table:
//!
//! ```text
//! >>> client.put(pa.table({'k': [1, 1, 2], 'v': [1.0, 2.0, 3.0]}), name='sales', persist=True)
//! $ cargo run -p vineyard-examples --bin sql_local -- /tmp/vineyard.sock \
//!       "SELECT k, sum(v) FROM sales GROUP BY k"
//! ```
//!
//! Without a query it lists the tables (`SHOW TABLES`).

use std::sync::Arc;

use vineyard_core::IpcClient;
use vineyard_sql::datafusion::prelude::{SessionConfig, SessionContext};
use vineyard_sql::{VineyardCatalog, CATALOG, SCHEMA};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(socket) = args.next() else {
        eprintln!("usage: sql_local <socket> [query]");
        std::process::exit(2);
    };
    let query = args.next().unwrap_or_else(|| "SHOW TABLES".into());

    let client = IpcClient::connect(&socket)?;
    // A plain DataFusion session; the instance is its default catalog.
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema(CATALOG, SCHEMA);
    let context = SessionContext::new_with_config(config);
    context.register_catalog(CATALOG, Arc::new(VineyardCatalog::new(client)));

    context.sql(&query).await?.show().await?;
    Ok(())
}
