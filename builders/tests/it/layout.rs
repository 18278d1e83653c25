//! Every tree a builder writes is spelled as the layout table says: its typename is a table
//! layout's, and each of its keys is one of that layout's names (or one every object has).

use std::sync::Arc;

use arrow::array::*;
use arrow::buffer::Buffer;
use arrow::datatypes::*;
use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};
use vineyard_builders::{put_table, put_tensor, Tensor};
use vineyard_core::{IpcClient, ObjectMeta};
use vineyard_test_harness::TestServer;

/// Keys of every object's tree, whatever its layout (the server adds `signature` and
/// `__timestamp`).
const OBJECT_KEYS: [&str; 8] = [
    "id",
    "typename",
    "instance_id",
    "nbytes",
    "transient",
    "global",
    "signature",
    "__timestamp",
];

/// A batch with a column of each type family the default builders take.
fn every_family() -> RecordBatch {
    let lists = ListArray::from_iter_primitive::<Int32Type, _, _>([Some(vec![Some(1)]), None]);
    let large_lists =
        LargeListArray::from_iter_primitive::<Int32Type, _, _>([Some(vec![Some(2), None]), None]);
    let point = StructArray::from(vec![(
        Arc::new(Field::new("x", DataType::Float64, true)),
        Arc::new(Float64Array::from(vec![Some(1.5), None])) as ArrayRef,
    )]);
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("int", Arc::new(Int64Array::from(vec![Some(1), None]))),
        (
            "at",
            Arc::new(TimestampMillisecondArray::from(vec![1, 2]).with_timezone("UTC")),
        ),
        (
            "price",
            Arc::new(
                Decimal128Array::from(vec![Some(1), None])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        ("flag", Arc::new(BooleanArray::from(vec![Some(true), None]))),
        ("nothing", Arc::new(NullArray::new(2))),
        ("text", Arc::new(StringArray::from(vec![Some("a"), None]))),
        (
            "long_text",
            Arc::new(LargeStringArray::from(vec!["b", "c"])),
        ),
        ("raw", Arc::new(BinaryArray::from_vec(vec![b"d", b"e"]))),
        (
            "long_raw",
            Arc::new(LargeBinaryArray::from_vec(vec![b"f", b"g"])),
        ),
        (
            "code",
            Arc::new(FixedSizeBinaryArray::try_from_iter([b"ab", b"cd"].into_iter()).unwrap()),
        ),
        ("list", Arc::new(lists)),
        ("large_list", Arc::new(large_lists)),
        ("point", Arc::new(point)),
        (
            "kind",
            Arc::new(DictionaryArray::<Int16Type>::from_iter([Some("x"), None])),
        ),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

/// Checks `tree` and its members; returns the typenames met.
fn check_tree(tree: &Map<String, Value>, typenames: &mut Vec<String>) {
    let meta = ObjectMeta::from_json(Value::Object(tree.clone())).unwrap();
    if meta.is_blob() {
        return;
    }
    let typename = meta
        .typename()
        .expect("every tree a builder writes has a typename");
    let layout = vineyard_layout::find(typename)
        .unwrap_or_else(|| panic!("`{typename}` is in no layout of the table"));
    for (key, value) in tree {
        if !OBJECT_KEYS.contains(&key.as_str()) {
            assert!(
                layout.name_of_key(key).is_some(),
                "`{typename}` has the key `{key}`, which {} does not name",
                layout.constant
            );
        }
        if let Value::Object(member) = value {
            check_tree(member, typenames);
        }
    }
    typenames.push(typename.into());
}

fn stored(client: &IpcClient, created: &ObjectMeta) -> Map<String, Value> {
    let id = created.id().expect("created trees have an id");
    client.get_metadata(id).expect("get_metadata").into_map()
}

#[test]
fn builders_write_only_names_of_the_table() {
    let server = TestServer::start();
    let client = server.client();
    let batch = every_family();
    let table = put_table(&client, &batch.schema(), std::slice::from_ref(&batch)).unwrap();
    let tensor = Tensor {
        shape: vec![2, 2],
        data_type: DataType::Float32,
        values: Buffer::from_slice_ref([1.0f32, 2.0, 3.0, 4.0]),
        fortran_order: false,
    };
    let tensor = put_tensor(&client, &tensor).unwrap();
    let mut typenames = Vec::new();
    for created in [&table, &tensor] {
        check_tree(&stored(&client, created), &mut typenames);
    }
    // Every built-in layout of Arrow columns and tensors was met.
    let constants: std::collections::BTreeSet<&str> = typenames
        .iter()
        .map(|typename| vineyard_layout::find(typename).unwrap().constant)
        .collect();
    let expected = [
        "NUMERIC_ARRAY",
        "FIXED_SIZE_BINARY_ARRAY",
        "BOOLEAN_ARRAY",
        "NULL_ARRAY",
        "BASE_BINARY_ARRAY",
        "LIST_ARRAY",
        "LARGE_LIST_ARRAY",
        "STRUCT_ARRAY",
        "DICTIONARY_ARRAY",
        "SCHEMA_PROXY",
        "RECORD_BATCH",
        "TABLE",
        "TENSOR",
    ];
    assert_eq!(constants, expected.into_iter().collect());
}
