//! pandas objects as the Python package stores them.

use arrow::array::*;
use arrow::datatypes::*;
use serde_json::json;
use vineyard_core::ObjectMeta;
use vineyard_resolvers::{resolve, resolve_array, Error, Resolved};

use crate::{blob, create, le_bytes};
use vineyard_test_harness::TestServer;

fn column(
    client: &vineyard_core::IpcClient,
    typename: &str,
    descr: &str,
    bytes: &[u8],
    len: usize,
) -> ObjectMeta {
    create(
        client,
        typename,
        json!({
            "shape_": format!("[{len}]"), "order_": "\"C\"", "partition_index_": "[]",
            "value_type_meta_": descr,
        }),
        vec![("buffer_", blob(client, bytes))],
    )
}

fn range_index(client: &vineyard_core::IpcClient, stop: i64) -> ObjectMeta {
    create(
        client,
        "vineyard::RangeIndex",
        json!({"name": "null", "start_": 0, "stop_": stop, "step_": 1, "nbytes": 0}),
        vec![],
    )
}

fn pickled(client: &vineyard_core::IpcClient) -> ObjectMeta {
    create(
        client,
        "vineyard::PickleBuffer",
        json!({"size_": 4}),
        vec![("buffer_", blob(client, b"\x80\x05N."))],
    )
}

#[test]
fn a_data_frame_resolves_to_its_columns() {
    let server = TestServer::start();
    let client = server.client();
    let ints = column(
        &client,
        "vineyard::Tensor<int64>",
        "<i8",
        &le_bytes(&[1i64, 2, 3], i64::to_le_bytes),
        3,
    );
    let floats = column(
        &client,
        "vineyard::Tensor<double>",
        "<f8",
        &le_bytes(&[0.5f64, 1.5, 2.5], f64::to_le_bytes),
        3,
    );
    let flags = column(&client, "vineyard::Tensor<bool>", "|b1", &[1, 0, 1], 3);
    let times = column(
        &client,
        "vineyard::Tensor<datetime64[ns]>",
        "<M8[ns]",
        &le_bytes(&[10i64, 20, 30], i64::to_le_bytes),
        3,
    );
    let columns_index = create(
        &client,
        "vineyard::Index",
        json!({"name": "null", "value_type_": "str"}),
        vec![("value_", pickled(&client))],
    );
    let frame = create(
        &client,
        "vineyard::DataFrame",
        json!({
            "columns_": "[\"a\", \"b\", 3, \"when\"]",
            "__values_-key-0": "\"a\"", "__values_-key-1": "\"b\"",
            "__values_-key-2": "3", "__values_-key-3": "\"when\"",
            "__values_-size": 4,
            "partition_index_row_": -1, "partition_index_column_": -1, "row_batch_index_": 0,
        }),
        vec![
            ("index_", range_index(&client, 3)),
            ("columns_index_", columns_index),
            ("__values_-value-0", ints),
            ("__values_-value-1", floats),
            ("__values_-value-2", flags),
            ("__values_-value-3", times),
        ],
    );
    let Resolved::RecordBatch(batch) = resolve(&client, &frame).unwrap() else {
        panic!("not a record batch");
    };
    let names: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["a", "b", "3", "when"]);
    assert_eq!(
        batch.column(0).as_ref(),
        &Int64Array::from(vec![1, 2, 3]) as &dyn Array
    );
    assert_eq!(
        batch.column(1).as_ref(),
        &Float64Array::from(vec![0.5, 1.5, 2.5]) as &dyn Array
    );
    assert_eq!(
        batch.column(2).as_ref(),
        &BooleanArray::from(vec![true, false, true]) as &dyn Array
    );
    assert_eq!(
        batch.column(3).data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, None)
    );
}

#[test]
fn a_frame_without_columns_takes_its_rows_from_the_index() {
    let server = TestServer::start();
    let client = server.client();
    let frame = create(
        &client,
        "vineyard::DataFrame",
        json!({"columns_": "[]", "__values_-size": 0}),
        vec![("index_", range_index(&client, 5))],
    );
    let Resolved::RecordBatch(batch) = resolve(&client, &frame).unwrap() else {
        panic!("not a record batch");
    };
    assert_eq!((batch.num_rows(), batch.num_columns()), (5, 0));
}

#[test]
fn pickled_columns_are_refused_by_name() {
    let server = TestServer::start();
    let client = server.client();
    let frame = create(
        &client,
        "vineyard::DataFrame",
        json!({"columns_": "[\"s\"]", "__values_-key-0": "\"s\"", "__values_-size": 1}),
        vec![
            ("index_", range_index(&client, 1)),
            ("__values_-value-0", pickled(&client)),
        ],
    );
    let error = resolve(&client, &frame).unwrap_err();
    assert!(matches!(error, Error::UnsupportedValue { .. }), "{error}");
    assert!(
        error.to_string().contains("column `s` is pickled"),
        "{error}"
    );
}

#[test]
fn series_and_indexes_resolve_to_their_values() {
    let server = TestServer::start();
    let client = server.client();
    let values = column(
        &client,
        "vineyard::Tensor<int>",
        "<i4",
        &le_bytes(&[4i32, 5], i32::to_le_bytes),
        2,
    );
    let series = create(
        &client,
        "vineyard::Series",
        json!({"name": "\"x\"", "value_type_": "int32"}),
        vec![
            ("index_", range_index(&client, 2)),
            ("value_", values.clone()),
        ],
    );
    let array = resolve_array(&client, &series).unwrap();
    assert_eq!(array.as_ref(), &Int32Array::from(vec![4, 5]) as &dyn Array);
    let index = create(
        &client,
        "vineyard::Index",
        json!({"name": "null"}),
        vec![("value_", values)],
    );
    assert_eq!(resolve_array(&client, &index).unwrap().len(), 2);
    let range = create(
        &client,
        "vineyard::RangeIndex",
        json!({"start_": 10, "stop_": 0, "step_": -3}),
        vec![],
    );
    let array = resolve_array(&client, &range).unwrap();
    assert_eq!(
        array.as_ref(),
        &Int64Array::from(vec![10, 7, 4, 1]) as &dyn Array
    );
}
