//! Which objects are tables, and how they are listed and found.

use arrow::array::Int64Array;
use vineyard_core::{IpcClient, ObjectMeta};
use vineyard_sql::ErrorKind;

use crate::fixture::*;

/// A named object that is not Arrow-shaped.
fn put_thing(client: &IpcClient, name: &str) {
    let mut meta = ObjectMeta::with_typename("my::Thing");
    meta.insert("answer", 42);
    let id = client.create_metadata(&meta).unwrap().id().unwrap();
    client.persist(id).unwrap();
    client.put_name(id, name).unwrap();
}

#[test]
fn named_arrow_shaped_objects_are_the_tables() {
    let server = instance();
    let client = server.client();
    put_table(&client, "sales", &sample_batches(2, 50));
    let numbers = vineyard_builders::put_array(&client, &Int64Array::from(vec![1, 2, 3])).unwrap();
    let numbers = numbers.id().unwrap();
    client.persist(numbers).unwrap();
    client.put_name(numbers, "numbers").unwrap();
    put_thing(&client, "thing");
    let engine = engine(&server);

    let listed = collect(
        &engine,
        "SELECT table_name FROM information_schema.tables \
         WHERE table_schema = 'public' ORDER BY table_name",
    )
    .unwrap();
    assert_eq!(
        strings(&listed, "table_name"),
        [Some("numbers".into()), Some("sales".into())]
    );
    let shown = collect(&engine, "SHOW TABLES").unwrap();
    let shown = strings(&shown, "table_name");
    assert!(shown.contains(&Some("sales".into())), "{shown:?}");
    assert!(!shown.contains(&Some("thing".into())), "{shown:?}");
    let columns = collect(
        &engine,
        "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_name = 'sales' ORDER BY ordinal_position",
    )
    .unwrap();
    assert_eq!(
        strings(&columns, "column_name"),
        [Some("k".into()), Some("v".into()), Some("s".into())]
    );
    let values = collect(&engine, "SELECT sum(value) AS total FROM numbers").unwrap();
    assert_eq!(i64s(&values, "total"), [Some(6)]);
}

#[test]
fn names_put_and_dropped_after_the_engine_starts_are_seen() {
    let server = instance();
    let client = server.client();
    let engine = engine(&server);
    let missing = collect(&engine, "SELECT * FROM later").unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");

    put_table(&client, "later", &sample_batches(1, 10));
    assert_eq!(rows(&collect(&engine, "SELECT * FROM later").unwrap()), 10);

    client.drop_name("later").unwrap();
    let dropped = collect(&engine, "SELECT * FROM later").unwrap_err();
    assert_eq!(dropped.kind(), ErrorKind::NotFound, "{dropped}");
}

#[test]
fn a_table_queried_before_follows_its_name_and_its_deletion() {
    let server = instance();
    let client = server.client();
    let engine = engine(&server);
    let first = put_table(&client, "moving", &sample_batches(2, 10));
    let by_id = format!("SELECT count(*) AS n FROM {first}");
    assert_eq!(rows(&collect(&engine, "SELECT * FROM moving").unwrap()), 20);
    assert_eq!(i64s(&collect(&engine, &by_id).unwrap(), "n"), [Some(20)]);

    // The name now stands for another object: the next query reads that one.
    client.drop_name("moving").unwrap();
    put_table(&client, "moving", &sample_batches(3, 10));
    assert_eq!(rows(&collect(&engine, "SELECT * FROM moving").unwrap()), 30);

    // The first object, read before under its id, is gone: so is its table.
    client.delete(&[first], true, false).unwrap();
    let gone = collect(&engine, &by_id).unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
}

#[test]
fn any_arrow_shaped_object_is_a_table_under_its_id() {
    let server = instance();
    let client = server.client();
    let batch = sample(0, 25);
    let meta = vineyard_builders::put_table(&client, &batch.schema(), &[batch]).unwrap();
    let id = meta.id().unwrap();
    let engine = engine(&server);
    for query in [
        format!("SELECT count(*) AS n FROM {id}"),
        format!("SELECT count(*) AS n FROM \"{id}\""),
    ] {
        assert_eq!(
            i64s(&collect(&engine, &query).unwrap(), "n"),
            [Some(25)],
            "{query}"
        );
    }
    let listed = collect(&engine, "SHOW TABLES").unwrap();
    assert!(!strings(&listed, "table_name").contains(&Some(id.to_string())));
}

#[test]
fn objects_that_are_not_arrow_shaped_are_refused() {
    let server = instance();
    put_thing(&server.client(), "thing");
    let engine = engine(&server);
    let error = collect(&engine, "SELECT * FROM thing").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("my::Thing") && message.contains("not Arrow-shaped"),
        "{message}"
    );
    // The engine goes on.
    put_table(&server.client(), "fine", &sample_batches(1, 3));
    assert_eq!(rows(&collect(&engine, "SELECT * FROM fine").unwrap()), 3);
}
