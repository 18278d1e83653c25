//! The metadata tree path: JSON text → `ObjectMeta::from_json` → `ObjectTable::create_data`
//! in a table over a small arena → read back with `get_tree`, `get_data`, `list_data`,
//! persist and delete. The table holds two sealed blobs and one object first; the strings
//! `@blob0`, `@blob1` and `@object` anywhere in the input become their ids, so inputs can name
//! real members. Anything may be refused with an error; nothing may panic, and what is created
//! must read back with its typename, and be deleted without leaking memory.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use vineyard_core::protocol::Pattern;
use vineyard_core::store::Arena;
use vineyard_core::table::ObjectTable;
use vineyard_core::ObjectMeta;

const ARENA_SIZE: u64 = 1 << 20;

fn substitute(value: &mut Value, names: &[(&str, String)]) {
    match value {
        Value::String(text) => {
            if let Some((_, id)) = names.iter().find(|(name, _)| name == text) {
                *text = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| substitute(item, names)),
        Value::Object(map) => map.values_mut().for_each(|item| substitute(item, names)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let arena = Arc::new(Arena::create(ARENA_SIZE).expect("a 1 MiB memfd"));
    let mut table = ObjectTable::new(0, arena);
    let connection = table.open_connection();
    let mut blob = |size| {
        let id = table.create_buffer(connection, size).expect("room").id();
        table.seal(connection, id).expect("seal");
        id
    };
    let (blob0, blob1) = (blob(64), blob(4096));
    let mut base = Map::new();
    base.insert("typename".into(), "fuzz::Base".into());
    base.insert("instance_id".into(), 0.into());
    let mut link = Map::new();
    link.insert("id".into(), blob0.to_string().into());
    base.insert("buffer".into(), Value::Object(link));
    let object = table.create_data(base, None).expect("the base object").id;
    let baseline = table.memory_usage();

    let names = [
        ("@blob0", blob0.to_string()),
        ("@blob1", blob1.to_string()),
        ("@object", object.to_string()),
    ];
    substitute(&mut value, &names);
    let Ok(meta) = ObjectMeta::from_json(value) else {
        return;
    };
    let typename = meta.typename().map(str::to_owned);
    let Ok(created) = table.create_data(meta.into_map(), None) else {
        assert_eq!(table.memory_usage(), baseline);
        return;
    };
    let tree = table
        .get_tree(created.id)
        .expect("a created object reads back");
    let read = ObjectMeta::from_json(Value::Object(tree)).expect("a tree is an object");
    assert_eq!(read.id(), Some(created.id));
    assert_eq!(read.typename().map(str::to_owned), typename);
    assert!(table.exists(created.id));
    assert!(table
        .get_data(&[created.id])
        .contains_key(&created.id.to_string()));
    let all = Pattern {
        text: "*".into(),
        regex: false,
        limit: usize::MAX,
    };
    let listed = table.list_data(&all).expect("`*` is a valid glob");
    assert!(listed.contains_key(&created.id.to_string()));
    let _ = table.persist(created.id);
    let _ = table.is_persisted(created.id);
    table
        .delete(&[created.id], true, false, false)
        .expect("deleting an object");
    assert!(!table.exists(created.id));
    assert!(table.memory_usage() <= baseline);
    table
        .delete(&[object, blob0, blob1], true, true, false)
        .expect("deleting the rest");
    table.close_connection(connection);
    assert_eq!(table.memory_usage(), 0, "bytes leaked");
});
