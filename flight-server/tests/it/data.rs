//! Sample Arrow data: every type the builders handle, with nulls.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, Int8Array, LargeBinaryArray, LargeListArray, LargeStringArray,
    ListArray, NullArray, RecordBatch, StringArray, StructArray, UInt16Array, UInt32Array,
    UInt64Array, UInt8Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};

/// A batch of `rows` rows (from `start`) with a column of each type, nulls every 3rd row.
pub fn every_type(start: i64, rows: usize) -> RecordBatch {
    let index = |i: usize| start + i as i64;
    let valid = |i: usize| index(i) % 3 != 0;
    let ints = |i: usize| valid(i).then(|| index(i));
    let strings: Vec<Option<String>> = (0..rows)
        .map(|i| valid(i).then(|| format!("row {}", index(i))))
        .collect();
    let bytes: Vec<Option<Vec<u8>>> = (0..rows)
        .map(|i| valid(i).then(|| index(i).to_le_bytes()[..(index(i) % 8) as usize].to_vec()))
        .collect();
    let lists: Vec<Option<Vec<Option<i32>>>> = (0..rows)
        .map(|i| {
            valid(i).then(|| {
                (0..index(i) % 4)
                    .map(|j| (j != 1).then_some(j as i32))
                    .collect()
            })
        })
        .collect();
    let struct_fields = vec![
        Arc::new(Field::new("a", DataType::Int32, true)),
        Arc::new(Field::new("b", DataType::Utf8, true)),
    ];
    let nested = StructArray::new(
        struct_fields.clone().into(),
        vec![
            Arc::new(Int32Array::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v as i32)),
            )),
            Arc::new(StringArray::from(strings.clone())),
        ],
        None,
    );
    let dictionary: DictionaryArray<Int32Type> = (0..rows)
        .map(|i| valid(i).then(|| ["red", "green", "blue"][index(i) as usize % 3]))
        .collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "i8",
            Arc::new(Int8Array::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v as i8)),
            )),
        ),
        (
            "i16",
            Arc::new(Int16Array::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v as i16)),
            )),
        ),
        (
            "i32",
            Arc::new(Int32Array::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v as i32)),
            )),
        ),
        ("i64", Arc::new(Int64Array::from_iter((0..rows).map(ints)))),
        (
            "u8",
            Arc::new(UInt8Array::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v as u8)),
            )),
        ),
        (
            "u16",
            Arc::new(UInt16Array::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v as u16)),
            )),
        ),
        (
            "u32",
            Arc::new(UInt32Array::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v as u32)),
            )),
        ),
        (
            "u64",
            Arc::new(UInt64Array::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v as u64)),
            )),
        ),
        (
            "f32",
            Arc::new(Float32Array::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v as f32 / 2.0)),
            )),
        ),
        (
            "f64",
            Arc::new(Float64Array::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v as f64 / 4.0)),
            )),
        ),
        (
            "bool",
            Arc::new(BooleanArray::from_iter(
                (0..rows).map(|i| ints(i).map(|v| v % 2 == 0)),
            )),
        ),
        ("utf8", Arc::new(StringArray::from(strings.clone()))),
        ("large_utf8", Arc::new(LargeStringArray::from(strings))),
        ("binary", Arc::new(BinaryArray::from_iter(bytes.clone()))),
        ("large_binary", Arc::new(LargeBinaryArray::from_iter(bytes))),
        (
            "list",
            Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
                lists.clone(),
            )),
        ),
        (
            "large_list",
            Arc::new(LargeListArray::from_iter_primitive::<Int32Type, _, _>(
                lists,
            )),
        ),
        ("struct", Arc::new(nested)),
        ("dictionary", Arc::new(dictionary)),
        ("null", Arc::new(NullArray::new(rows))),
    ];
    RecordBatch::try_from_iter_with_nullable(
        columns
            .into_iter()
            .map(|(name, column)| (name, column, true)),
    )
    .expect("sample batch")
}

/// The schema of [`every_type`].
pub fn every_type_schema() -> SchemaRef {
    every_type(0, 0).schema()
}

/// A batch of one non-null Int64 column `x` holding `start..start + rows`.
pub fn numbers(start: i64, rows: usize) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    let column = Int64Array::from_iter_values(start..start + rows as i64);
    RecordBatch::try_new(schema, vec![Arc::new(column)]).expect("numbers batch")
}
