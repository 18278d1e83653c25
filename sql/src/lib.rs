//! vineyard-sql: SQL over what a vineyard instance holds, with Apache DataFusion.
//!
//! Every named object that is Arrow-shaped (a table, a record batch, a dataframe, an array,
//! a tensor) is a table under its name, and any such object is a table under its id
//! (`o0123456789abcdef`); `information_schema` and `SHOW TABLES` list the named ones. Scans
//! read the batches straight from the shared memory: each Arrow buffer is a view of a mapped
//! blob and holds it until the last batch over it is dropped, so nothing is copied and
//! nothing is freed under a running plan. Parts of global tables held by other instances
//! are read from their owners through a [`RemoteReader`]. `CREATE TABLE name AS SELECT ...`
//! (or [`SqlEngine::store`]) stores a result as a named `vineyard::Table`.
//!
//! ```no_run
//! # async fn run() -> vineyard_sql::Result<()> {
//! use vineyard_sql::{SqlEngine, SqlOptions};
//!
//! let client = vineyard_core::IpcClient::connect("/tmp/vineyard.sock")?;
//! let engine = SqlEngine::new(client, SqlOptions::default())?;
//! let rows = engine.collect("SELECT k, sum(v) FROM numbers GROUP BY k").await?;
//! # Ok(()) }
//! ```
//!
//! The Flight service (`vineyard-flight-server`, feature `sql`) serves an engine per instance
//! over Flight SQL.
//!
//! # Layout
//! - [`engine`]: `SqlEngine` (the session, its memory pool, what statements may do),
//!   `Statement`, `SqlOptions`.
//! - [`catalog`]: `VineyardCatalog` and `VineyardSchema`, the instance as a catalog; `CREATE
//!   TABLE ... AS` and `DROP TABLE` land there.
//! - `stored`: which objects are tables, and what a table is made of (parts, or batches).
//! - [`table`]: `StoredTable`, a stored object as a `TableProvider`.
//! - `scan`: `StoredScan`, the execution plan that reads the parts where they live.
//! - `order`: `PieceOrder`, which slices a scan reads first when a sort sits above it.
//! - `prune`: `Pruned`, the slices left once the filters pushed down (a `TopK`'s threshold)
//!   rule some out.
//! - [`remote`]: `RemoteReader`, parts held by other instances.
//! - [`store`]: results stored back as named tables, all or nothing.
//! - `instance`: the client to the instance, run off the async threads.
//! - `placeholders`: `?` placeholders numbered `$1`, `$2`, ...
//! - [`error`]: the crate's `Error` and the `ErrorKind` services answer with.

#![warn(missing_docs)]

pub mod catalog;
pub mod engine;
pub mod error;
mod instance;
mod order;
mod placeholders;
mod prune;
pub mod remote;
mod scan;
pub mod store;
mod stored;
pub mod table;

pub use catalog::{VineyardCatalog, VineyardSchema, CATALOG, SCHEMA};
/// The DataFusion this crate is built on, for the types of its API.
pub use datafusion;
pub use engine::{parameters_of, SqlEngine, SqlOptions, Statement};
pub use error::{Error, ErrorKind, Result};
pub use remote::{RemoteBatches, RemoteReader};
pub use table::StoredTable;
