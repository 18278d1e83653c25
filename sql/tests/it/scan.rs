//! Scans: zero copy, holds, partitions, exact statistics, limits.

use arrow::array::{Array, Float64Array};
use vineyard_resolvers::Resolved;
use vineyard_sql::datafusion::common::stats::Precision;
use vineyard_sql::datafusion::physical_plan::displayable;

use crate::fixture::*;

/// The physical plan of `query`, as text.
fn plan(engine: &vineyard_sql::SqlEngine, query: &str) -> String {
    runtime().block_on(async {
        let frame = engine.sql(query).await.unwrap();
        let plan = frame.create_physical_plan().await.unwrap();
        let text = displayable(plan.as_ref()).indent(true).to_string();
        text
    })
}

#[test]
fn scans_return_the_stored_buffers_and_hold_them() {
    let server = instance();
    let client = server.client();
    let id = put_table(&client, "t", &[sample(0, 1_000)]);
    let Resolved::Table { batches, .. } =
        vineyard_resolvers::resolve(&client, &client.get_metadata(id).unwrap()).unwrap()
    else {
        panic!("a table resolves to batches");
    };
    let stored = batches[0].column_by_name("v").unwrap().to_data().buffers()[0].clone();
    let stored_range = stored.as_ptr() as usize..stored.as_ptr() as usize + stored.len();
    drop(batches);

    let engine = engine_over(&client);
    let scanned = collect(&engine, "SELECT v FROM t").unwrap();
    assert_eq!(rows(&scanned), 1_000);
    for batch in &scanned {
        let values = batch
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        let address = values.values().as_ptr() as usize;
        assert!(
            stored_range.contains(&address),
            "batch copied: {address:#x} not in {stored_range:x?}"
        );
    }

    // Deleting the table and filling the store does not change rows a result still holds.
    let before: Vec<f64> = f64s(&scanned, "v");
    client.drop_name("t").unwrap();
    client.delete(&[id], true, true).unwrap();
    drop(stored);
    put_table(&client, "filler", &sample_batches(4, 1_000));
    assert_eq!(f64s(&scanned, "v"), before);
}

#[test]
fn statistics_are_exact_and_count_needs_no_scan() {
    let server = instance();
    put_table(&server.client(), "t", &sample_batches(3, 100));
    let engine = engine(&server);
    let table = runtime()
        .block_on(engine.context().table_provider("t"))
        .unwrap();
    let statistics = table.statistics().unwrap();
    assert_eq!(statistics.num_rows, Precision::Exact(300));
    let counted = plan(&engine, "SELECT count(*) FROM t");
    assert!(!counted.contains("StoredScan"), "{counted}");
    assert_eq!(
        i64s(
            &collect(&engine, "SELECT count(*) AS n FROM t").unwrap(),
            "n"
        ),
        [Some(300)]
    );
}

#[test]
fn one_stored_batch_is_spread_over_partitions_and_a_limit_reads_only_its_rows() {
    let server = instance();
    put_table(&server.client(), "t", &[sample(0, 1_000)]);
    let engine = engine(&server);
    let all = plan(&engine, "SELECT k, v FROM t");
    assert!(
        all.contains("StoredScan: table=`t`, partitions=2, remote_parts=0, rows=1000"),
        "{all}"
    );
    let first = plan(&engine, "SELECT * FROM t LIMIT 10");
    assert!(
        first.contains("partitions=1, remote_parts=0, rows=10"),
        "{first}"
    );
    let limited = collect(&engine, "SELECT * FROM t LIMIT 10").unwrap();
    assert_eq!(rows(&limited), 10);
    assert_eq!(
        f64s(&limited, "v"),
        (0..10).map(|i| f64::from(i) / 2.0).collect::<Vec<_>>()
    );
}
