//! What bad statements are told, the memory limit, dropped queries.

use std::time::{Duration, Instant};

use futures::StreamExt;
use vineyard_sql::{ErrorKind, SqlOptions};

use crate::fixture::*;

#[test]
fn bad_statements_say_what_was_wrong() {
    let server = instance();
    put_table(&server.client(), "sales", &[sample(0, 100)]);
    let engine = engine(&server);
    let cases = [
        (
            "SELEC k FROM sales",
            ErrorKind::InvalidArgument,
            "SQL error",
        ),
        ("SELECT * FROM nowhere", ErrorKind::NotFound, "nowhere"),
        ("SELECT nope FROM sales", ErrorKind::InvalidArgument, "nope"),
        (
            "SELECT s + 1 FROM sales",
            ErrorKind::InvalidArgument,
            "Utf8",
        ),
        (
            "SELECT CAST(s AS BIGINT) FROM sales",
            ErrorKind::InvalidArgument,
            "s1",
        ),
        (
            "INSERT INTO sales VALUES (1, 2.0, 'x')",
            ErrorKind::Unimplemented,
            "immutable",
        ),
        (
            "COPY sales TO '/tmp/x.csv'",
            ErrorKind::Unimplemented,
            "write files",
        ),
        (
            "SET datafusion.execution.batch_size = 1",
            ErrorKind::Unimplemented,
            "on its own",
        ),
        (
            "CREATE VIEW v AS SELECT 1",
            ErrorKind::Unimplemented,
            "CREATE TABLE",
        ),
        (
            "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '/etc/passwd'",
            ErrorKind::Unimplemented,
            "CREATE TABLE",
        ),
    ];
    for (query, kind, words) in cases {
        let error = collect(&engine, query).unwrap_err();
        assert_eq!(error.kind(), kind, "{query}: {error}");
        assert!(error.to_string().contains(words), "{query}: {error}");
    }
    assert_eq!(rows(&collect(&engine, "SELECT * FROM sales").unwrap()), 100);
}

#[test]
fn a_query_past_the_memory_limit_fails_alone() {
    let server = instance();
    put_table(&server.client(), "sales", &[sample(0, 200_000)]);
    let engine = engine_with(
        &server,
        SqlOptions {
            memory_limit: Some(4 << 20),
            ..SqlOptions::default()
        },
    );
    // Two hundred thousand groups of strings need more than 4 MiB of hash table.
    let error = collect(&engine, "SELECT s, count(*) FROM sales GROUP BY s").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ResourceExhausted, "{error}");
    assert!(error.to_string().contains("sql_memory_limit"), "{error}");
    assert_eq!(engine.memory_used(), 0);
    let small = collect(&engine, "SELECT k, count(*) AS n FROM sales GROUP BY k").unwrap();
    assert_eq!(rows(&small), KEYS as usize);
}

#[test]
fn dropping_a_running_query_stops_it() {
    let server = instance();
    let engine = engine_with(&server, SqlOptions::default());
    let runtime = runtime();
    runtime.block_on(async {
        // Far more rows than the test would wait for, grouped so that it holds memory.
        let statement = engine
            .prepare("SELECT value % 100000 AS g, count(*) FROM generate_series(1, 100000000000) GROUP BY g")
            .await
            .unwrap();
        let mut rows = engine.execute(statement).await.unwrap();
        assert_eq!(engine.running_queries(), 1);
        let polled = tokio::time::timeout(Duration::from_millis(300), rows.next()).await;
        assert!(polled.is_err(), "the query cannot have finished");
        assert!(engine.memory_used() > 0);
        drop(rows);
        assert_eq!(engine.running_queries(), 0);
        let deadline = Instant::now() + Duration::from_secs(10);
        while engine.memory_used() > 0 {
            assert!(Instant::now() < deadline, "the dropped query still holds memory");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}
