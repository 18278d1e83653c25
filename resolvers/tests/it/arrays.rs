//! Arrays laid out as the Python package writes them.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::*;
use serde_json::json;
use vineyard_resolvers::{resolve, resolve_array, Error, Resolved};

use crate::{blob, create, le_bytes};
use vineyard_test_harness::TestServer;

#[test]
fn a_python_slice_keeps_the_whole_buffers_and_an_offset() {
    let server = TestServer::start();
    let client = server.client();
    // pa.array([1, None, 3], pa.int64()).slice(1), as the Python package stores it.
    let values = blob(&client, &le_bytes(&[1i64, 0, 3], i64::to_le_bytes));
    let meta = create(
        &client,
        "vineyard::NumericArray<int64>",
        json!({"length_": 2, "null_count_": 1, "offset_": 1, "nbytes": 17}),
        vec![
            ("buffer_", values.clone()),
            ("null_bitmap_", blob(&client, &[0b101])),
        ],
    );
    let array = resolve_array(&client, &meta).unwrap();
    assert_eq!(
        array.as_ref(),
        &Int64Array::from(vec![None, Some(3)]) as &dyn Array
    );
    // Zero copy: the values start one element into the blob.
    let blob = client.get_blob(values.id().unwrap()).unwrap();
    let start = array.to_data().buffers()[0].as_ptr();
    assert_eq!(start, blob.as_ptr().wrapping_add(8));
}

#[test]
fn arrow_type_says_what_the_typename_does_not() {
    let server = TestServer::start();
    let client = server.client();
    // pa.timestamp('ms', tz='UTC'), as pyarrow serialised it.
    let arrow_type = "/////4gAAAAQAAAAAAAKAAwABgAFAAgACgAAAAABBAAMAAAACAAIAAAABAAIAAAABAAAAAEAAAAU\
                      AAAAEAAUAAgABgAHAAwAAAAQABAAAAAAAAEKEAAAACAAAAAEAAAAAAAAAAQAAABpdGVtAAAAAAgA\
                      DAAGAAgACAAAAAAAAQAEAAAAAwAAAFVUQwAAAAAA";
    let meta = create(
        &client,
        "vineyard::NumericArray<timestamp[ms, tz=UTC]>",
        json!({"length_": 2, "null_count_": 0, "offset_": 0, "arrow_type_": arrow_type}),
        vec![
            (
                "buffer_",
                blob(&client, &le_bytes(&[1i64, 2], i64::to_le_bytes)),
            ),
            ("null_bitmap_", blob(&client, &[])),
        ],
    );
    let array = resolve_array(&client, &meta).unwrap();
    let expected = TimestampMillisecondArray::from(vec![1, 2]).with_timezone("UTC");
    assert_eq!(array.as_ref(), &expected as &dyn Array);
}

#[test]
fn older_typenames_and_fields_spelled_as_text() {
    let server = TestServer::start();
    let client = server.client();
    let meta = create(
        &client,
        "vineyard::NumericArray<int32_t>",
        json!({"length_": "3", "null_count_": "0", "offset_": "0"}),
        vec![(
            "buffer_",
            blob(&client, &le_bytes(&[7i32, 8, 9], i32::to_le_bytes)),
        )],
    );
    let array = resolve_array(&client, &meta).unwrap();
    assert_eq!(
        array.as_ref(),
        &Int32Array::from(vec![7, 8, 9]) as &dyn Array
    );

    let meta = create(
        &client,
        "vineyard::LargeStringArray",
        json!({"length_": 2, "null_count_": 0, "offset_": 0}),
        vec![
            (
                "buffer_offsets_",
                blob(&client, &le_bytes(&[0i64, 2, 5], i64::to_le_bytes)),
            ),
            ("buffer_data_", blob(&client, b"hello")),
            ("null_bitmap_", blob(&client, &[])),
        ],
    );
    let array = resolve_array(&client, &meta).unwrap();
    assert_eq!(
        array.as_ref(),
        &LargeStringArray::from(vec!["he", "llo"]) as &dyn Array
    );
}

#[test]
fn strings_with_an_offset_and_empty_strings_without_offsets() {
    let server = TestServer::start();
    let client = server.client();
    let meta = create(
        &client,
        "vineyard::BaseBinaryArray<arrow::StringArray>",
        json!({"length_": 2, "null_count_": 0, "offset_": 1}),
        vec![
            (
                "buffer_offsets_",
                blob(&client, &le_bytes(&[0i32, 1, 3, 6], i32::to_le_bytes)),
            ),
            ("buffer_data_", blob(&client, b"abbccc")),
            ("null_bitmap_", blob(&client, &[])),
        ],
    );
    let array = resolve_array(&client, &meta).unwrap();
    assert_eq!(
        array.as_ref(),
        &StringArray::from(vec!["bb", "ccc"]) as &dyn Array
    );

    let meta = create(
        &client,
        "vineyard::BaseBinaryArray<arrow::BinaryArray>",
        json!({"length_": 0, "null_count_": 0, "offset_": 0}),
        vec![
            ("buffer_offsets_", blob(&client, &[])),
            ("buffer_data_", blob(&client, &[])),
            ("null_bitmap_", blob(&client, &[])),
        ],
    );
    let array = resolve_array(&client, &meta).unwrap();
    assert_eq!(array.data_type(), &DataType::Binary);
    assert!(array.is_empty());
}

#[test]
fn booleans_lists_and_structs_with_offsets() {
    let server = TestServer::start();
    let client = server.client();
    let booleans = create(
        &client,
        "vineyard::BooleanArray",
        json!({"length_": 3, "null_count_": 1, "offset_": 2}),
        vec![
            ("buffer_", blob(&client, &[0b0000_1000])),
            ("null_bitmap_", blob(&client, &[0b0001_1011])),
        ],
    );
    let expected = BooleanArray::from(vec![None, Some(true), Some(false)]);
    assert_eq!(
        resolve_array(&client, &booleans).unwrap().as_ref(),
        &expected as &dyn Array
    );

    // [[1, 2], [3], [4, 5, 6]].slice(1) without arrow_type_: the item field is `item`.
    let values = create(
        &client,
        "vineyard::NumericArray<int64>",
        json!({"length_": 6, "null_count_": 0, "offset_": 0}),
        vec![
            (
                "buffer_",
                blob(&client, &le_bytes(&[1i64, 2, 3, 4, 5, 6], i64::to_le_bytes)),
            ),
            ("null_bitmap_", blob(&client, &[])),
        ],
    );
    let list = create(
        &client,
        "vineyard::ListArray",
        json!({"length_": 2, "null_count_": 0, "offset_": 1}),
        vec![
            (
                "buffer_offsets_",
                blob(&client, &le_bytes(&[0i32, 2, 3, 6], i32::to_le_bytes)),
            ),
            ("null_bitmap_", blob(&client, &[])),
            ("values_", values.clone()),
        ],
    );
    let expected = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
        Some(vec![Some(3)]),
        Some(vec![Some(4), Some(5), Some(6)]),
    ]);
    assert_eq!(
        resolve_array(&client, &list).unwrap().as_ref(),
        &expected as &dyn Array
    );

    // Without arrow_type_ the struct's fields are numbered.
    let structs = create(
        &client,
        "vineyard::StructArray",
        json!({"length_": 6, "null_count_": 0, "offset_": 0, "__children_-size": 1}),
        vec![
            ("null_bitmap_", blob(&client, &[])),
            ("__children_-0", values),
        ],
    );
    let resolved = resolve_array(&client, &structs).unwrap();
    assert_eq!(resolved.as_struct().column_names(), ["f0"]);
}

#[test]
fn dictionaries_and_nulls() {
    let server = TestServer::start();
    let client = server.client();
    let indices = create(
        &client,
        "vineyard::NumericArray<int8>",
        json!({"length_": 4, "null_count_": 1, "offset_": 0}),
        vec![
            ("buffer_", blob(&client, &[1, 0, 0, 1])),
            ("null_bitmap_", blob(&client, &[0b1011])),
        ],
    );
    let dictionary = create(
        &client,
        "vineyard::BaseBinaryArray<arrow::StringArray>",
        json!({"length_": 2, "null_count_": 0, "offset_": 0}),
        vec![
            (
                "buffer_offsets_",
                blob(&client, &le_bytes(&[0i32, 1, 3], i32::to_le_bytes)),
            ),
            ("buffer_data_", blob(&client, b"xyy")),
            ("null_bitmap_", blob(&client, &[])),
        ],
    );
    let meta = create(
        &client,
        "vineyard::DictionaryArray",
        json!({"length_": 4, "null_count_": 1, "offset_": 0, "ordered_": false}),
        vec![("indices_", indices), ("dictionary_", dictionary)],
    );
    let resolved = resolve_array(&client, &meta).unwrap();
    let expected: DictionaryArray<Int8Type> = vec![Some("yy"), Some("x"), None, Some("yy")]
        .into_iter()
        .collect();
    assert_eq!(resolved.data_type(), expected.data_type());
    let decoded = arrow::compute::cast(&resolved, &DataType::Utf8).unwrap();
    let expected = arrow::compute::cast(&expected, &DataType::Utf8).unwrap();
    assert_eq!(decoded.as_ref(), expected.as_ref());

    let nulls = create(
        &client,
        "vineyard::NullArray",
        json!({"length_": 5}),
        vec![],
    );
    assert_eq!(
        resolve_array(&client, &nulls).unwrap().as_ref(),
        &NullArray::new(5) as &dyn Array
    );
}

#[test]
fn chunked_arrays_resolve_as_one_column_tables() {
    let server = TestServer::start();
    let client = server.client();
    let chunk = |values: &[i64]| {
        create(
            &client,
            "vineyard::NumericArray<int64>",
            json!({"length_": values.len(), "null_count_": 0, "offset_": 0}),
            vec![
                (
                    "buffer_",
                    blob(&client, &le_bytes(values, i64::to_le_bytes)),
                ),
                ("null_bitmap_", blob(&client, &[])),
            ],
        )
    };
    let two = create(
        &client,
        "vineyard::ChunkedArray",
        json!({"length_": 3, "null_count_": 0, "__chunks_-size": 2}),
        vec![
            ("__chunks_-0", chunk(&[1, 2])),
            ("__chunks_-1", chunk(&[3])),
        ],
    );
    let Resolved::Table { schema, batches } = resolve(&client, &two).unwrap() else {
        panic!("not a table");
    };
    assert_eq!(schema.field(0).name(), "value");
    assert_eq!(batches.len(), 2);
    assert_eq!(
        batches[1].column(0).as_ref(),
        &Int64Array::from(vec![3]) as &dyn Array
    );
    let error = resolve_array(&client, &two).unwrap_err();
    assert!(matches!(error, Error::UnexpectedShape { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("resolves to a table, not an array"),
        "{error}"
    );

    let one = create(
        &client,
        "vineyard::ChunkedArray",
        json!({"length_": 2, "null_count_": 0, "__chunks_-size": 1}),
        vec![("__chunks_-0", chunk(&[1, 2]))],
    );
    let array = resolve_array(&client, &one).unwrap();
    assert_eq!(array.as_ref(), &Int64Array::from(vec![1, 2]) as &dyn Array);
}

#[test]
fn a_schema_alone_is_an_empty_table() {
    let server = TestServer::start();
    let client = server.client();
    let schema = Schema::new(vec![Field::new("a", DataType::Float32, false)]);
    let bytes = vineyard_resolvers::layout::encode_schema(&schema).unwrap();
    let text = json!({ "bytes": bytes }).to_string();
    let meta = create(
        &client,
        "vineyard::SchemaProxy",
        json!({"schema_binary_": text}),
        vec![],
    );
    let Resolved::Table {
        schema: resolved,
        batches,
    } = resolve(&client, &meta).unwrap()
    else {
        panic!("not a table");
    };
    assert_eq!(resolved, Arc::new(schema));
    assert!(batches.is_empty());
}

#[test]
fn bad_trees_get_clear_errors() {
    let server = TestServer::start();
    let client = server.client();
    let meta = create(
        &client,
        "vineyard::NumericArray<int64>",
        json!({"length_": 4, "null_count_": 0, "offset_": 0}),
        vec![("null_bitmap_", blob(&client, &[]))],
    );
    let error = resolve_array(&client, &meta).unwrap_err();
    assert!(matches!(error, Error::MissingMember { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("lacks the member `buffer_`"), "{message}");
    assert!(
        message.contains(&meta.id().unwrap().to_string()),
        "{message}"
    );

    let meta = create(
        &client,
        "vineyard::NumericArray<int64>",
        json!({"length_": 4, "null_count_": 0, "offset_": 0}),
        vec![
            ("buffer_", blob(&client, &[0; 16])),
            ("null_bitmap_", blob(&client, &[])),
        ],
    );
    let error = resolve_array(&client, &meta).unwrap_err();
    assert!(matches!(error, Error::Arrow(_)), "{error}");

    let meta = create(
        &client,
        "vineyard::NumericArray<int64>",
        json!({"length_": -1}),
        vec![],
    );
    let error = resolve_array(&client, &meta).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`length_` should be a non-negative integer"),
        "{error}"
    );
}
