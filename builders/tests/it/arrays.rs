//! Every supported Arrow type, whole, sliced (at offsets that split bitmap bytes) and empty.

use std::sync::Arc;

use arrow::array::*;
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::*;
use half::f16;
use serde_json::Value;
use vineyard_core::EMPTY_BLOB_ID;

use crate::round_trip;
use vineyard_test_harness::TestServer;

/// Round-trips `array`, two slices of it and an empty one; checks type and values.
fn check(server: &TestServer, array: ArrayRef) {
    let client = server.client();
    let len = array.len();
    let mut cases = vec![
        array.clone(),
        array.slice(0, 0),
        new_empty_array(array.data_type()),
    ];
    if len > 4 {
        cases.push(array.slice(3, len - 4));
        cases.push(array.slice(len - 1, 1));
    }
    for case in cases {
        let (meta, resolved) = round_trip(&client, case.as_ref());
        assert_eq!(resolved.data_type(), case.data_type(), "tree: {meta:?}");
        assert_eq!(resolved.as_ref(), case.as_ref(), "tree: {meta:?}");
        assert_eq!(resolved.null_count(), case.null_count());
    }
}

fn nullable<T: Clone>(values: &[T]) -> Vec<Option<T>> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| (index % 3 != 1).then(|| value.clone()))
        .collect()
}

#[test]
fn integers_and_floats() {
    let server = TestServer::start();
    let ints: Vec<i64> = (0..20).map(|value| value * 7 - 50).collect();
    check(
        &server,
        Arc::new(Int8Array::from(nullable(
            &ints.iter().map(|v| *v as i8).collect::<Vec<_>>(),
        ))),
    );
    check(
        &server,
        Arc::new(Int16Array::from(nullable(
            &ints.iter().map(|v| *v as i16 * 300).collect::<Vec<_>>(),
        ))),
    );
    check(
        &server,
        Arc::new(Int32Array::from(nullable(
            &ints.iter().map(|v| *v as i32 * 70_000).collect::<Vec<_>>(),
        ))),
    );
    check(
        &server,
        Arc::new(Int64Array::from(nullable(
            &ints.iter().map(|v| v << 40).collect::<Vec<_>>(),
        ))),
    );
    check(
        &server,
        Arc::new(UInt8Array::from(nullable(
            &ints.iter().map(|v| *v as u8).collect::<Vec<_>>(),
        ))),
    );
    check(
        &server,
        Arc::new(UInt16Array::from(nullable(
            &ints.iter().map(|v| *v as u16).collect::<Vec<_>>(),
        ))),
    );
    check(
        &server,
        Arc::new(UInt32Array::from(nullable(
            &ints.iter().map(|v| *v as u32).collect::<Vec<_>>(),
        ))),
    );
    check(
        &server,
        Arc::new(UInt64Array::from(nullable(
            &ints.iter().map(|v| *v as u64).collect::<Vec<_>>(),
        ))),
    );
    check(
        &server,
        Arc::new(Float16Array::from(nullable(
            &ints
                .iter()
                .map(|v| f16::from_f32(*v as f32 / 4.0))
                .collect::<Vec<_>>(),
        ))),
    );
    check(
        &server,
        Arc::new(Float32Array::from(nullable(
            &ints.iter().map(|v| *v as f32 / 3.0).collect::<Vec<_>>(),
        ))),
    );
    check(
        &server,
        Arc::new(Float64Array::from(nullable(
            &ints.iter().map(|v| *v as f64 / 3.0).collect::<Vec<_>>(),
        ))),
    );
    // No nulls at all: no bitmap either.
    check(&server, Arc::new(Int64Array::from(ints.clone())));
}

#[test]
fn dates_times_timestamps_durations() {
    let server = TestServer::start();
    let values: Vec<i64> = (0..20)
        .map(|value| 1_600_000_000 + value * 86_400)
        .collect();
    let small: Vec<i32> = values.iter().map(|v| (*v / 86_400) as i32).collect();
    check(&server, Arc::new(Date32Array::from(nullable(&small))));
    check(&server, Arc::new(Date64Array::from(nullable(&values))));
    check(&server, Arc::new(Time32SecondArray::from(nullable(&small))));
    check(
        &server,
        Arc::new(Time32MillisecondArray::from(nullable(&small))),
    );
    check(
        &server,
        Arc::new(Time64MicrosecondArray::from(nullable(&values))),
    );
    check(
        &server,
        Arc::new(Time64NanosecondArray::from(nullable(&values))),
    );
    check(
        &server,
        Arc::new(TimestampMillisecondArray::from(nullable(&values))),
    );
    check(
        &server,
        Arc::new(TimestampNanosecondArray::from(nullable(&values)).with_timezone("Asia/Shanghai")),
    );
    check(
        &server,
        Arc::new(TimestampSecondArray::from(nullable(&values)).with_timezone("UTC")),
    );
    check(
        &server,
        Arc::new(DurationMicrosecondArray::from(nullable(&values))),
    );
}

#[test]
fn numeric_trees_follow_the_python_layout() {
    let server = TestServer::start();
    let client = server.client();
    let array = TimestampMillisecondArray::from(vec![Some(1), None, Some(3)]).with_timezone("UTC");
    let (meta, _) = round_trip(&client, &array);
    assert_eq!(
        meta.typename(),
        Some("vineyard::NumericArray<timestamp[ms, tz=UTC]>")
    );
    for (field, value) in [("length_", 3), ("null_count_", 1), ("offset_", 0)] {
        assert_eq!(meta.get(field), Some(&Value::from(value)), "{field}");
    }
    let arrow_type = meta.get("arrow_type_").and_then(Value::as_str).unwrap();
    assert_eq!(
        vineyard_layout::decode_type(arrow_type).unwrap(),
        array.data_type().clone()
    );
    assert_eq!(meta.member("buffer_").unwrap().nbytes(), 24);
    assert_eq!(meta.member("null_bitmap_").unwrap().nbytes(), 1);

    let (meta, _) = round_trip(&client, &Float64Array::from(vec![1.0, 2.0]));
    assert_eq!(meta.typename(), Some("vineyard::NumericArray<double>"));
    assert!(meta.get("arrow_type_").is_none());
    let bitmap = meta.member("null_bitmap_").unwrap();
    assert_eq!(bitmap.id(), Some(EMPTY_BLOB_ID));
    assert_eq!(meta.nbytes(), 16);
}

#[test]
fn decimals() {
    let server = TestServer::start();
    let values: Vec<i128> = (0..20).map(|value| value * 12_345 - 99_999).collect();
    check(
        &server,
        Arc::new(
            Decimal128Array::from(nullable(&values))
                .with_precision_and_scale(12, 3)
                .unwrap(),
        ),
    );
    let wide: Vec<i256> = values
        .iter()
        .map(|v| i256::from_i128(*v) * i256::from_i128(1 << 100))
        .collect();
    check(
        &server,
        Arc::new(
            Decimal256Array::from(nullable(&wide))
                .with_precision_and_scale(70, 5)
                .unwrap(),
        ),
    );
    let (meta, _) = round_trip(
        &server.client(),
        &Decimal128Array::from(vec![1, 2])
            .with_precision_and_scale(5, 2)
            .unwrap(),
    );
    assert_eq!(meta.typename(), Some("vineyard::FixedSizeBinaryArray"));
    assert_eq!(meta.get("byte_width_"), Some(&Value::from(16)));
}

#[test]
fn booleans_and_nulls() {
    let server = TestServer::start();
    let values: Vec<bool> = (0..21).map(|value| value % 5 < 2).collect();
    check(&server, Arc::new(BooleanArray::from(nullable(&values))));
    check(&server, Arc::new(BooleanArray::from(values)));
    check(&server, Arc::new(NullArray::new(17)));
    let (meta, _) = round_trip(&server.client(), &NullArray::new(3));
    assert_eq!(meta.typename(), Some("vineyard::NullArray"));
    assert_eq!(meta.get("length_"), Some(&Value::from(3)));
}

#[test]
fn strings_and_binaries() {
    let server = TestServer::start();
    let words: Vec<String> = (0..20)
        .map(|value| "wörd".repeat(value % 4) + &value.to_string())
        .collect();
    let words: Vec<Option<&str>> = nullable(&words.iter().map(String::as_str).collect::<Vec<_>>());
    check(&server, Arc::new(StringArray::from(words.clone())));
    check(&server, Arc::new(LargeStringArray::from(words.clone())));
    let bytes: Vec<Option<&[u8]>> = words.iter().map(|word| word.map(str::as_bytes)).collect();
    check(&server, Arc::new(BinaryArray::from(bytes.clone())));
    check(&server, Arc::new(LargeBinaryArray::from(bytes)));
    let fixed: Vec<Option<[u8; 3]>> =
        nullable(&(0..20u8).map(|v| [v, v + 1, v + 2]).collect::<Vec<_>>());
    check(
        &server,
        Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(fixed.into_iter(), 3).unwrap(),
        ),
    );
    // A slice stores only its own bytes, offsets from 0.
    let array = StringArray::from(vec!["aaaa", "bb", "c", "dddddd"]).slice(1, 2);
    let (meta, resolved) = round_trip(&server.client(), &array);
    assert_eq!(
        meta.typename(),
        Some("vineyard::BaseBinaryArray<arrow::StringArray>")
    );
    assert_eq!(meta.member("buffer_data_").unwrap().nbytes(), 3);
    assert_eq!(meta.member("buffer_offsets_").unwrap().nbytes(), 12);
    assert_eq!(resolved.as_string::<i32>().value_offsets(), &[0, 2, 3]);
}

#[test]
fn lists() {
    let server = TestServer::start();
    let rows: Vec<Option<Vec<Option<i32>>>> = (0..20)
        .map(|row| {
            (row % 4 != 2).then(|| (0..row % 5).map(|v| (v != 1).then_some(v * row)).collect())
        })
        .collect();
    check(
        &server,
        Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
            rows.clone(),
        )),
    );
    let large = LargeListArray::from_iter_primitive::<Int32Type, _, _>(rows.clone());
    check(&server, Arc::new(large));
    // Lists of strings, and lists of lists, with a named item field.
    let strings = StringArray::from(vec![Some("a"), None, Some("ccc"), Some("dd"), Some("e")]);
    let field = Arc::new(Field::new("element", DataType::Utf8, true));
    let list = ListArray::new(
        field.clone(),
        OffsetBuffer::new(ScalarBuffer::from(vec![0, 2, 2, 5])),
        Arc::new(strings),
        Some(vec![true, false, true].into()),
    );
    check(&server, Arc::new(list.clone()));
    let outer = LargeListArray::new(
        Arc::new(Field::new("item", list.data_type().clone(), true)),
        OffsetBuffer::new(ScalarBuffer::from(vec![0i64, 1, 3])),
        Arc::new(list),
        None,
    );
    check(&server, Arc::new(outer));
}

#[test]
fn structs() {
    let server = TestServer::start();
    let ids = Int64Array::from(
        (0..20)
            .map(|v| (v % 4 != 0).then_some(v))
            .collect::<Vec<_>>(),
    );
    let names = StringArray::from((0..20).map(|v| format!("n{v}")).collect::<Vec<_>>());
    let fields = Fields::from(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, false),
    ]);
    let validity = (0..20).map(|v| v % 6 != 5).collect::<Vec<_>>();
    let array = StructArray::new(
        fields.clone(),
        vec![Arc::new(ids), Arc::new(names)],
        Some(validity.into()),
    );
    check(&server, Arc::new(array));
    let (meta, _) = round_trip(&server.client(), &StructArray::new_empty_fields(2, None));
    assert_eq!(meta.get("__children_-size"), Some(&Value::from(0)));
}

#[test]
fn dictionaries() {
    let server = TestServer::start();
    let keys = Int32Array::from(
        (0..20)
            .map(|v| (v % 5 != 3).then_some(v % 3))
            .collect::<Vec<_>>(),
    );
    let values = Arc::new(StringArray::from(vec!["red", "green", "blue"]));
    check(&server, Arc::new(DictionaryArray::new(keys, values)));
    let keys = Int8Array::from(vec![1, 0, 1, 1, 0, 0, 1]);
    let values = Arc::new(Float64Array::from(vec![0.5, 1.5]));
    check(&server, Arc::new(DictionaryArray::new(keys, values)));
}
