//! Integration tests of the SQL engine: a real instance (`TestServer`) holding tables put
//! with the builders, queried through `SqlEngine` in the test's process.
//!
//! # Layout
//! - `fixture`: instances, sample tables (int64 key, float64 value, string), engines.
//! - `catalog`: which objects are tables, `SHOW TABLES`, `information_schema`, names seen
//!   live, tables by id.
//! - `queries`: results against the same computation done by hand; every Arrow-shaped kind.
//! - `scan`: zero copy, partitions, exact statistics, limits.
//! - `store`: `CREATE TABLE ... AS`, `DROP TABLE`, `SqlEngine::store`, all or nothing.
//! - `errors`: what bad statements are told, the memory limit, dropped queries.

mod catalog;
mod errors;
mod fixture;
mod queries;
mod scan;
mod store;
