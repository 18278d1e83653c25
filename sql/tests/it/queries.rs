//! Query results against the same computation done by hand over the sample.

use std::collections::BTreeMap;

use arrow::buffer::Buffer;
use arrow::datatypes::DataType;
use vineyard_builders::Tensor;
use vineyard_sql::datafusion::common::ScalarValue;

use crate::fixture::*;

const ROWS: usize = 1_000;

/// Every row of the sample as (k, v, s).
fn by_hand() -> Vec<(i64, f64, Option<String>)> {
    let batch = sample(0, ROWS);
    let batches = [batch];
    let k = i64s(&batches, "k");
    let v = f64s(&batches, "v");
    let s = strings(&batches, "s");
    (0..ROWS)
        .map(|i| (k[i].unwrap(), v[i], s[i].clone()))
        .collect()
}

#[test]
fn aggregates_filters_and_top_n_match_the_data() {
    let server = instance();
    // Four batches of unequal size: the scan cuts and spreads them over partitions.
    let batches = vec![
        sample(0, 100),
        sample(100, 450),
        sample(550, 50),
        sample(600, 400),
    ];
    put_table(&server.client(), "sales", &batches);
    let engine = engine(&server);
    let rows = by_hand();

    let grouped = collect(
        &engine,
        "SELECT k, sum(v) AS total, count(*) AS n FROM sales GROUP BY k ORDER BY k",
    )
    .unwrap();
    let mut expected: BTreeMap<i64, (f64, i64)> = BTreeMap::new();
    for (k, v, _) in &rows {
        let entry = expected.entry(*k).or_default();
        entry.0 += v;
        entry.1 += 1;
    }
    assert_eq!(
        i64s(&grouped, "k"),
        expected.keys().map(|k| Some(*k)).collect::<Vec<_>>()
    );
    assert_eq!(
        f64s(&grouped, "total"),
        expected
            .values()
            .map(|(total, _)| *total)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        i64s(&grouped, "n"),
        expected.values().map(|(_, n)| Some(*n)).collect::<Vec<_>>()
    );

    let filtered = collect(
        &engine,
        "SELECT s, v FROM sales WHERE v > 100 AND k = 3 ORDER BY v",
    )
    .unwrap();
    let wanted: Vec<_> = rows
        .iter()
        .filter(|(k, v, _)| *v > 100.0 && *k == 3)
        .collect();
    assert_eq!(
        f64s(&filtered, "v"),
        wanted.iter().map(|(_, v, _)| *v).collect::<Vec<_>>()
    );
    assert_eq!(
        strings(&filtered, "s"),
        wanted.iter().map(|(_, _, s)| s.clone()).collect::<Vec<_>>()
    );
    assert_eq!(filtered[0].num_columns(), 2);

    let top = collect(&engine, "SELECT v FROM sales ORDER BY v DESC LIMIT 10").unwrap();
    let mut values: Vec<f64> = rows.iter().map(|(_, v, _)| *v).collect();
    values.sort_by(|a, b| b.total_cmp(a));
    assert_eq!(f64s(&top, "v"), values[..10]);
}

#[test]
fn parameters_bind_in_order() {
    let server = instance();
    put_table(&server.client(), "sales", &[sample(0, ROWS)]);
    let engine = engine(&server);
    let runtime = runtime();
    for query in [
        "SELECT count(*) AS n FROM sales WHERE k = $1 AND v < $2",
        "SELECT count(*) AS n FROM sales WHERE k = ? AND v < ?",
    ] {
        let statement = runtime.block_on(engine.prepare(query)).unwrap();
        let parameters = statement.parameter_schema().unwrap();
        assert_eq!(parameters.fields().len(), 2, "{query}: {parameters:?}");
        assert_eq!(parameters.field(0).data_type(), &DataType::Int64);
        let bound = statement
            .bind(vec![
                ScalarValue::Int64(Some(3)),
                ScalarValue::Float64(Some(100.0)),
            ])
            .unwrap();
        let batches = runtime.block_on(async {
            use futures::TryStreamExt;
            engine
                .execute(bound)
                .await
                .unwrap()
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
        });
        let expected = by_hand()
            .iter()
            .filter(|(k, v, _)| *k == 3 && *v < 100.0)
            .count();
        assert_eq!(i64s(&batches, "n"), [Some(expected as i64)], "{query}");
    }
}

#[test]
fn record_batches_arrays_and_tensors_are_tables_too() {
    let server = instance();
    let client = server.client();
    let name = |id: vineyard_core::ObjectID, name: &str| {
        client.persist(id).unwrap();
        client.put_name(id, name).unwrap();
    };
    let batch = vineyard_builders::put_record_batch(&client, &sample(0, 30)).unwrap();
    name(batch.id().unwrap(), "batch");
    let values: Vec<f64> = (0..12).map(f64::from).collect();
    let tensor = Tensor {
        shape: vec![3, 4],
        data_type: DataType::Float64,
        values: Buffer::from_slice_ref(&values),
        fortran_order: false,
    };
    let tensor = vineyard_builders::put_tensor(&client, &tensor).unwrap();
    name(tensor.id().unwrap(), "matrix");
    let engine = engine(&server);

    let batch = collect(&engine, "SELECT max(v) AS top FROM batch").unwrap();
    assert_eq!(f64s(&batch, "top"), [14.5]);
    let tensor = collect(&engine, "SELECT sum(value) AS total FROM matrix").unwrap();
    assert_eq!(f64s(&tensor, "total"), [66.0]);
}
