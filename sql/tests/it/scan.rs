//! Scans: zero copy, holds, partitions, exact statistics, limits.

use arrow::array::{Array, Float64Array};
use vineyard_resolvers::Resolved;
use vineyard_sql::datafusion::common::stats::Precision;
use vineyard_sql::datafusion::physical_plan::{displayable, ExecutionPlanProperties};

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

/// The `slices_skipped` metric of an `EXPLAIN ANALYZE`.
fn slices_skipped(engine: &vineyard_sql::SqlEngine, query: &str) -> usize {
    let analyzed = collect(engine, &format!("EXPLAIN ANALYZE {query}")).unwrap();
    let text: String = strings(&analyzed, "plan").into_iter().flatten().collect();
    text.split("slices_skipped=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no slices_skipped metric: {text}"))
}

#[test]
fn a_top_n_over_one_large_resolved_array_reads_its_leading_slices_first() {
    let server = instance();
    let client = server.client();
    // One array of 800 rising values (resolved, not a table of parts): each of the two
    // partitions holds one piece of 400 rows, read in 4 slices of 100.
    let values = Float64Array::from_iter_values((0..800).map(f64::from));
    let rising = vineyard_builders::put_array(&client, &values).unwrap();
    let rising = rising.id().unwrap();
    client.persist(rising).unwrap();
    client.put_name(rising, "rising").unwrap();
    let engine = engine(&server);
    let query = "SELECT value FROM rising ORDER BY value DESC LIMIT 3";
    let top = plan(&engine, query);
    assert!(top.contains("slices_first_by=value DESC"), "{top}");
    assert_eq!(
        f64s(&collect(&engine, query).unwrap(), "value"),
        [799.0, 798.0, 797.0]
    );
    // Each partition's first slice holds its top rows; its three others cannot pass.
    let skipped = slices_skipped(&engine, query);
    assert!(skipped >= 6, "{skipped} slices skipped");
}

#[test]
fn a_top_n_reads_the_slices_that_lead_first_and_stays_exact() {
    let server = instance();
    // Four batches of 200 rows, `v` rising through the table: the top rows are at its end.
    put_table(&server.client(), "t", &sample_batches(4, 200));
    let engine = engine(&server);
    let query = "SELECT k, v FROM t ORDER BY v DESC LIMIT 3";
    let top = plan(&engine, query);
    assert!(top.contains("slices_first_by=v DESC"), "{top}");
    assert_eq!(
        f64s(&collect(&engine, query).unwrap(), "v"),
        [399.5, 399.0, 398.5]
    );
    let ascending = plan(&engine, "SELECT v FROM t ORDER BY v LIMIT 3");
    assert!(ascending.contains("slices_first_by=v ASC"), "{ascending}");
    let unordered = plan(&engine, "SELECT k, v FROM t");
    assert!(!unordered.contains("slices_first_by"), "{unordered}");

    // Run whole, the TopK's threshold reaches the scan: after each partition's first slice
    // (which holds its top rows), its other three slices cannot pass and are skipped.
    let skipped = slices_skipped(&engine, query);
    assert!(skipped >= 6, "{skipped} slices skipped");

    // The scan itself: partitions hold batches 0 and 2, and 1 and 3, read in slices of 100
    // rows (the engine's batch size); each starts with its slice of the largest `v`.
    let firsts = runtime().block_on(async {
        let frame = engine.sql(query).await.unwrap();
        let context = std::sync::Arc::new(frame.task_ctx());
        let mut plan = frame.create_physical_plan().await.unwrap();
        while plan.name() != "StoredScan" {
            plan = std::sync::Arc::clone(plan.children()[0]);
        }
        let mut firsts = Vec::new();
        for partition in 0..plan.output_partitioning().partition_count() {
            let batches = vineyard_sql::datafusion::physical_plan::common::collect(
                plan.execute(partition, std::sync::Arc::clone(&context))
                    .unwrap(),
            )
            .await
            .unwrap();
            firsts.push(
                batches
                    .iter()
                    .map(|batch| f64s(std::slice::from_ref(batch), "v")[0])
                    .collect::<Vec<_>>(),
            );
        }
        firsts
    });
    assert_eq!(
        firsts,
        [
            vec![250.0, 200.0, 50.0, 0.0],
            vec![350.0, 300.0, 150.0, 100.0]
        ]
    );
}

#[test]
fn scans_in_table_order_hand_on_stored_batches_whole_up_to_a_cap() {
    let server = instance();
    let client = server.client();
    put_table(&client, "t", &sample_batches(3, 1_000));
    put_table(&client, "big", &[sample(0, 20_000)]);
    let engine = engine(&server); // 100-row batches: the cap is 6,400 rows
    let sizes = |query: &str| -> Vec<usize> {
        let mut sizes: Vec<usize> = collect(&engine, query)
            .unwrap()
            .iter()
            .map(|batch| batch.num_rows())
            .collect();
        sizes.sort_unstable();
        sizes
    };
    assert_eq!(sizes("SELECT k, v FROM t"), [1_000, 1_000, 1_000]);
    // One batch of 20,000 rows: two partitions of 10,000, each in slices of at most 6,400.
    assert_eq!(sizes("SELECT k, v FROM big"), [3_600, 3_600, 6_400, 6_400]);
}
