//! Results stored back: `CREATE TABLE ... AS`, `DROP TABLE`, `SqlEngine::store`.

use vineyard_resolvers::Resolved;
use vineyard_sql::{ErrorKind, SqlOptions};
use vineyard_test_harness::TestServer;

use crate::fixture::*;

#[test]
fn create_table_as_stores_a_named_table_python_and_flight_can_read() {
    let server = instance();
    let client = server.client();
    put_table(&client, "sales", &[sample(0, 1_000)]);
    let engine = engine(&server);
    collect(
        &engine,
        "CREATE TABLE totals AS SELECT k, sum(v) AS total FROM sales GROUP BY k",
    )
    .unwrap();

    let id = client.get_name("totals", false).unwrap();
    let meta = client.get_metadata(id).unwrap();
    assert_eq!(meta.typename(), Some("vineyard::Table"));
    let Resolved::Table { schema, batches } = vineyard_resolvers::resolve(&client, &meta).unwrap()
    else {
        panic!("a table");
    };
    assert_eq!(schema.field(0).name(), "k");
    assert_eq!(rows(&batches), KEYS as usize);
    let again = collect(&engine, "SELECT sum(total) AS all_of_it FROM totals").unwrap();
    let expected: f64 = (0..1_000).map(|i| f64::from(i) / 2.0).sum();
    assert_eq!(f64s(&again, "all_of_it"), [expected]);
}

#[test]
fn create_refuses_a_taken_name_unless_asked_to_replace_and_drop_removes_it() {
    let server = instance();
    let client = server.client();
    put_table(&client, "sales", &[sample(0, 100)]);
    let engine = engine(&server);
    collect(
        &engine,
        "CREATE TABLE small AS SELECT * FROM sales WHERE k = 1",
    )
    .unwrap();
    let first = client.get_name("small", false).unwrap();

    let taken = collect(&engine, "CREATE TABLE small AS SELECT * FROM sales").unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::AlreadyExists, "{taken}");
    assert_eq!(client.get_name("small", false).unwrap(), first);
    collect(
        &engine,
        "CREATE TABLE IF NOT EXISTS small AS SELECT * FROM sales",
    )
    .unwrap();
    assert_eq!(client.get_name("small", false).unwrap(), first);

    collect(
        &engine,
        "CREATE OR REPLACE TABLE small AS SELECT * FROM sales WHERE k = 2",
    )
    .unwrap();
    let replaced = client.get_name("small", false).unwrap();
    assert_ne!(replaced, first);
    assert!(
        !client.exists(first).unwrap(),
        "the replaced table is deleted"
    );
    let n = collect(&engine, "SELECT count(*) AS n FROM small WHERE k = 2").unwrap();
    assert_eq!(i64s(&n, "n"), [Some(10)]);

    collect(&engine, "DROP TABLE small").unwrap();
    assert!(client.get_name("small", false).is_err());
    assert!(!client.exists(replaced).unwrap());
    collect(&engine, "DROP TABLE IF EXISTS small").unwrap();
    let missing = collect(&engine, "DROP TABLE small").unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
}

#[test]
fn store_keeps_a_query_result_under_a_name() {
    let server = instance();
    put_table(&server.client(), "sales", &[sample(0, 100)]);
    let engine = engine(&server);
    let id = runtime()
        .block_on(engine.store("evens", "SELECT * FROM sales WHERE k % 2 = 0"))
        .unwrap();
    assert_eq!(server.client().get_name("evens", false).unwrap(), id);
    assert_eq!(rows(&collect(&engine, "SELECT * FROM evens").unwrap()), 50);
    let command = runtime()
        .block_on(engine.store("x", "DROP TABLE evens"))
        .unwrap_err();
    assert_eq!(command.kind(), ErrorKind::InvalidArgument, "{command}");
}

#[test]
fn a_result_that_does_not_fit_leaves_nothing_behind() {
    let server = TestServer::builder().size(24 << 20).start();
    let client = server.client();
    put_table(&client, "sales", &[sample(0, 100_000)]);
    let engine = engine_with(&server, SqlOptions::default());
    let before = client.list_metadatas("*", false, 100_000).unwrap().len();
    let usage = server.memory_usage();
    // Three million rows of two doubles (48 MB) do not fit in what is left.
    let error = collect(
        &engine,
        "CREATE TABLE big AS SELECT a.v, b.v AS w FROM sales a, \
         (SELECT v FROM sales LIMIT 30) b",
    )
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ResourceExhausted, "{error}");
    assert!(client.get_name("big", false).is_err());
    assert_eq!(
        client.list_metadatas("*", false, 100_000).unwrap().len(),
        before
    );
    server.wait_for_memory_usage(usage);
}
