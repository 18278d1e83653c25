//! User builders and unsupported types.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::*;
use vineyard_builders::{family_of, put_array, BuilderRegistry, Error};
use vineyard_core::ObjectMeta;
use vineyard_resolvers::{Resolved, ResolverRegistry};

use vineyard_test_harness::TestServer;

#[test]
fn unsupported_types_say_which_family() {
    let server = TestServer::start();
    let client = server.client();
    let values = Arc::new(Int32Array::from(vec![1, 2, 3, 4]));
    let field = Arc::new(Field::new("item", DataType::Int32, true));
    let array = FixedSizeListArray::new(field, 2, values, None);
    let error = put_array(&client, &array).unwrap_err();
    assert!(
        matches!(
            error,
            Error::UnsupportedType {
                family: "FixedSizeList",
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("BuilderRegistry::register"),
        "{error}"
    );
    assert_eq!(family_of(&DataType::Utf8View), "Utf8View");
}

#[test]
fn a_user_builder_and_resolver_pair() {
    let server = TestServer::start();
    let client = server.client();
    // Fixed-size lists as a typename of our own: the list size and the flat values.
    let mut builders = BuilderRegistry::with_defaults();
    builders.register(
        "FixedSizeList",
        Box::new(|registry, put, array| {
            let list = array.as_fixed_size_list();
            let values = list.values().slice(
                list.offset() * list.value_length() as usize,
                list.len() * list.value_length() as usize,
            );
            let mut meta = ObjectMeta::with_typename("my::FixedSizeList");
            meta.insert("list_size_", list.value_length());
            meta.add_member("values_", registry.build_array(put, values.as_ref())?);
            Ok(meta) // the put creates it, after its members
        }),
    );
    let mut resolvers = ResolverRegistry::with_defaults();
    resolvers.register(
        "my::FixedSizeList",
        Box::new(|registry, client, meta| {
            let size = meta.get("list_size_").and_then(|v| v.as_i64()).unwrap() as i32;
            let values = registry.resolve_array(client, &meta.member("values_").unwrap())?;
            let field = Arc::new(Field::new("item", values.data_type().clone(), true));
            Ok(Resolved::Array(Arc::new(FixedSizeListArray::new(
                field, size, values, None,
            ))))
        }),
    );
    let values = Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5, 6]));
    let field = Arc::new(Field::new("item", DataType::Int32, true));
    let array = FixedSizeListArray::new(field, 2, values, None);
    // Nested inside a struct, the user builder still applies.
    let wrapped = StructArray::from(vec![(
        Arc::new(Field::new("pairs", array.data_type().clone(), false)),
        Arc::new(array) as ArrayRef,
    )]);
    let meta = builders.put_array(&client, &wrapped).unwrap();
    let stored = client.get_metadata(meta.id().unwrap()).unwrap();
    assert_eq!(
        stored.member("__children_-0").unwrap().typename(),
        Some("my::FixedSizeList")
    );
    let resolved = resolvers.resolve_array(&client, &stored).unwrap();
    assert_eq!(resolved.as_ref(), &wrapped as &dyn Array);
}
