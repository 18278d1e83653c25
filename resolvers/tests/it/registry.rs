//! Prefix matching, user resolvers, blobs and `to_record_batches`.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::*;
use arrow::record_batch::RecordBatch;
use serde_json::json;
use vineyard_core::ObjectMeta;
use vineyard_resolvers::{resolve, to_record_batches, Error, Resolved, ResolverRegistry};

use crate::{blob, create};
use vineyard_test_harness::TestServer;

fn tagged(tag: i64) -> vineyard_resolvers::Resolver {
    Box::new(move |_, _, _| Ok(Resolved::Array(Arc::new(Int64Array::from(vec![tag])))))
}

fn tag_of(
    registry: &ResolverRegistry,
    client: &vineyard_core::IpcClient,
    meta: &ObjectMeta,
) -> i64 {
    let array = registry.resolve_array(client, meta).unwrap();
    array.as_primitive::<Int64Type>().value(0)
}

#[test]
fn the_longest_prefix_wins_and_the_last_registration() {
    let server = TestServer::start();
    let client = server.client();
    let meta = create(&client, "my::Thing<int>", json!({}), vec![]);
    let mut registry = ResolverRegistry::new();
    registry.register("my::", tagged(1));
    registry.register("my::Thing", tagged(2));
    registry.register("my::Th", tagged(3));
    assert_eq!(tag_of(&registry, &client, &meta), 2);
    registry.register("my::Thing", tagged(4));
    assert_eq!(tag_of(&registry, &client, &meta), 4);
    registry.register("my::Thing<int>", tagged(5));
    assert_eq!(tag_of(&registry, &client, &meta), 5);

    let other = create(&client, "their::Thing", json!({}), vec![]);
    let error = registry.resolve(&client, &other).unwrap_err();
    assert!(matches!(error, Error::UnsupportedType { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("no resolver for typename `their::Thing`"),
        "{message}"
    );
    assert!(
        message.contains(&other.id().unwrap().to_string()),
        "{message}"
    );
}

#[test]
fn user_resolvers_apply_to_members_of_built_in_layouts() {
    let server = TestServer::start();
    let client = server.client();
    let custom = create(&client, "my::Column", json!({}), vec![]);
    let schema = Schema::new(vec![Field::new("c", DataType::Int64, false)]);
    let bytes = vineyard_resolvers::layout::encode_schema(&schema).unwrap();
    let proxy = create(
        &client,
        "vineyard::SchemaProxy",
        json!({"schema_binary_": json!({"bytes": bytes}).to_string()}),
        vec![],
    );
    let batch = create(
        &client,
        "vineyard::RecordBatch",
        json!({"row_num_": 1, "column_num_": 1, "__columns_-size": 1}),
        vec![("schema_", proxy), ("__columns_-0", custom)],
    );
    assert!(resolve(&client, &batch).is_err());
    let mut registry = ResolverRegistry::with_defaults();
    registry.register("my::Column", tagged(9));
    let Resolved::RecordBatch(resolved) = registry.resolve(&client, &batch).unwrap() else {
        panic!("not a record batch");
    };
    assert_eq!(
        resolved.column(0).as_ref(),
        &Int64Array::from(vec![9]) as &dyn Array
    );
}

#[test]
fn blobs_resolve_and_stream_as_one_binary_row() {
    let server = TestServer::start();
    let client = server.client();
    let member = blob(&client, b"some bytes");
    let meta = client.get_metadata(member.id().unwrap()).unwrap_or(member);
    let Resolved::Blob(resolved) = resolve(&client, &meta).unwrap() else {
        panic!("not a blob");
    };
    assert_eq!(&resolved[..], b"some bytes");
    let pointer = resolved.as_ptr();
    let (schema, batches) = to_record_batches(Resolved::Blob(resolved)).unwrap();
    assert_eq!(schema.field(0).name(), "value");
    assert_eq!(schema.field(0).data_type(), &DataType::Binary);
    let column = batches[0].column(0).as_binary::<i32>();
    assert_eq!(column.value(0), b"some bytes");
    assert_eq!(column.values().as_ptr(), pointer);
}

#[test]
fn arrays_and_batches_stream_as_themselves() {
    let array: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
    let (schema, batches) = to_record_batches(Resolved::Array(array.clone())).unwrap();
    assert_eq!(schema.field(0).name(), "value");
    assert!(schema.field(0).is_nullable());
    assert_eq!(batches[0].column(0), &array);
    let batch = RecordBatch::try_from_iter([("x", array)]).unwrap();
    let (schema, batches) = to_record_batches(Resolved::RecordBatch(batch.clone())).unwrap();
    assert_eq!(schema, batch.schema());
    assert_eq!(batches, [batch]);
}
