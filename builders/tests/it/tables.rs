//! Record batches and tables.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::*;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use serde_json::Value;
use vineyard_builders::{put_record_batch, put_table, Error};
use vineyard_resolvers::{resolve, Resolved};

use vineyard_test_harness::TestServer;

fn sample_batch(rows: i64) -> RecordBatch {
    let metadata = HashMap::from([("origin".to_string(), "test".to_string())]);
    let schema = Arc::new(Schema::new_with_metadata(
        vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new_list("tags", Field::new_list_field(DataType::Utf8, true), true),
            Field::new_dictionary("kind", DataType::Int16, DataType::Utf8, true),
        ],
        metadata,
    ));
    let ids = Int64Array::from_iter_values(0..rows);
    let names = StringArray::from_iter((0..rows).map(|v| (v % 3 != 0).then(|| format!("row{v}"))));
    let at = TimestampMicrosecondArray::from_iter((0..rows).map(|v| (v % 4 != 1).then_some(v)))
        .with_timezone("UTC");
    let mut tags = ListBuilder::new(StringBuilder::new());
    for row in 0..rows {
        for tag in 0..row % 3 {
            tags.values().append_value(format!("t{tag}"));
        }
        tags.append(row % 5 != 4);
    }
    let kind: DictionaryArray<Int16Type> =
        (0..rows).map(|v| ["a", "b"][(v % 2) as usize]).collect();
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(ids),
            Arc::new(names),
            Arc::new(at),
            Arc::new(tags.finish()),
            Arc::new(kind),
        ],
    )
    .unwrap()
}

#[test]
fn record_batches_round_trip_with_schema_metadata() {
    let server = TestServer::start();
    let client = server.client();
    let batch = sample_batch(23);
    for case in [batch.clone(), batch.slice(5, 11), batch.slice(0, 0)] {
        let meta = put_record_batch(&client, &case).unwrap();
        assert_eq!(meta.typename(), Some("vineyard::RecordBatch"));
        assert_eq!(meta.get("row_num_"), Some(&Value::from(case.num_rows())));
        assert_eq!(meta.get("__columns_-size"), Some(&Value::from(5)));
        let stored = client.get_metadata(meta.id().unwrap()).unwrap();
        let Resolved::RecordBatch(resolved) = resolve(&client, &stored).unwrap() else {
            panic!("not a record batch");
        };
        assert_eq!(resolved, case);
        assert_eq!(resolved.schema().metadata(), case.schema().metadata());
    }
}

#[test]
fn a_batch_without_columns_keeps_its_row_count() {
    let server = TestServer::start();
    let client = server.client();
    let options = RecordBatchOptions::new().with_row_count(Some(7));
    let batch =
        RecordBatch::try_new_with_options(Arc::new(Schema::empty()), vec![], &options).unwrap();
    let meta = put_record_batch(&client, &batch).unwrap();
    let Resolved::RecordBatch(resolved) = resolve(&client, &meta).unwrap() else {
        panic!("not a record batch");
    };
    assert_eq!(resolved.num_rows(), 7);
    assert_eq!(resolved.num_columns(), 0);
}

#[test]
fn tables_round_trip() {
    let server = TestServer::start();
    let client = server.client();
    let whole = sample_batch(40);
    let schema = whole.schema();
    let batches = vec![whole.slice(0, 13), whole.slice(13, 0), whole.slice(13, 27)];
    let meta = put_table(&client, &schema, &batches).unwrap();
    assert_eq!(meta.typename(), Some("vineyard::Table"));
    assert_eq!(meta.get("num_rows_"), Some(&Value::from(40)));
    assert_eq!(meta.get("batch_num_"), Some(&Value::from(3)));
    assert_eq!(meta.get("num_columns_"), Some(&Value::from(5)));
    assert!(meta.member("partitions_-2").is_some());
    let stored = client.get_metadata(meta.id().unwrap()).unwrap();
    let Resolved::Table {
        schema: resolved_schema,
        batches: resolved,
    } = resolve(&client, &stored).unwrap()
    else {
        panic!("not a table");
    };
    assert_eq!(resolved_schema, schema);
    assert_eq!(resolved, batches);

    let empty = put_table(&client, &schema, &[]).unwrap();
    let Resolved::Table {
        schema: empty_schema,
        batches,
    } = resolve(&client, &empty).unwrap()
    else {
        panic!("not a table");
    };
    assert_eq!(empty_schema, schema);
    assert!(batches.is_empty());
}

#[test]
fn a_batch_with_other_fields_is_refused() {
    let server = TestServer::start();
    let client = server.client();
    let batch = sample_batch(4);
    let other =
        RecordBatch::try_from_iter([("id", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef)])
            .unwrap();
    let error = put_table(&client, &batch.schema(), &[batch.clone(), other]).unwrap_err();
    assert!(
        matches!(error, Error::SchemaMismatch { index: 1, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("batch 1"), "{error}");
}
