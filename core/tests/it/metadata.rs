//! Metadata: create with members, get (expanded), list, delete rules, persist, names, clear.

use std::time::{Duration, Instant};

use serde_json::Value;
use vineyard_core::{Code, IpcClient, ObjectID, ObjectMeta};

use crate::blobs::pattern;
use vineyard_test_harness::TestServer;

/// An object of `typename` with the given blobs as members `buffer_0`, `buffer_1`, ...
fn object_with_blobs(client: &IpcClient, typename: &str, blobs: &[ObjectID]) -> ObjectID {
    let mut meta = ObjectMeta::with_typename(typename);
    for (index, &blob) in blobs.iter().enumerate() {
        meta.add_member(
            &format!("buffer_{index}"),
            client.get_metadata(blob).unwrap(),
        );
    }
    client.create_metadata(&meta).unwrap().id().unwrap()
}

/// An object of `typename` with the given objects as members, linked by id only.
fn object_with_members(client: &IpcClient, typename: &str, members: &[ObjectID]) -> ObjectID {
    let mut meta = ObjectMeta::with_typename(typename);
    for (index, &member) in members.iter().enumerate() {
        meta.add_member_id(&format!("member_{index}"), member);
    }
    client.create_metadata(&meta).unwrap().id().unwrap()
}

fn exists(client: &IpcClient, id: ObjectID) -> bool {
    client.exists(id).unwrap()
}

#[test]
fn create_and_get_expand_members() {
    let server = TestServer::start();
    let client = server.client();
    let blob = client.put_bytes(&pattern(1000, 1)).unwrap();

    let mut inner = ObjectMeta::with_typename("test::Inner");
    inner.add_member("buffer_", client.get_metadata(blob).unwrap());
    inner.insert("shape_", "[1000]");
    inner.set_nbytes(1000);
    let inner = client.create_metadata(&inner).unwrap();
    let inner_id = inner.id().unwrap();
    assert!(!inner_id.is_blob());
    assert_eq!(inner.instance_id(), Some(client.instance_id()));
    assert!(inner.get("signature").and_then(Value::as_u64).is_some());

    let mut outer = ObjectMeta::with_typename("test::Outer");
    outer.add_member("inner_", inner.clone());
    outer.add_member_id("same_inner_", inner_id);
    outer.insert("label_", "\"outer\"");
    let outer_id = client.create_metadata(&outer).unwrap().id().unwrap();

    let reader = server.client();
    let fetched = reader.get_metadata(outer_id).unwrap();
    assert_eq!(fetched.id(), Some(outer_id));
    assert_eq!(fetched.typename(), Some("test::Outer"));
    assert_eq!(fetched.get("label_"), Some(&Value::from("\"outer\"")));
    assert!(fetched.is_transient());
    assert!(fetched.get("__timestamp").and_then(Value::as_u64).is_some());
    for key in ["inner_", "same_inner_"] {
        let member = fetched.member(key).unwrap();
        assert_eq!(member.id(), Some(inner_id));
        assert_eq!(member.typename(), Some("test::Inner"));
        assert_eq!(member.get("shape_"), Some(&Value::from("[1000]")));
        let buffer = member.member("buffer_").unwrap();
        assert!(buffer.is_blob());
        assert_eq!(buffer.id(), Some(blob));
        assert_eq!(buffer.instance_id(), Some(reader.instance_id()));
        assert_eq!(buffer.nbytes(), 1000);
        assert_eq!(buffer.get("length"), Some(&Value::from(1000)));
    }
    // A blob id reports its own tree.
    let blob_meta = reader.get_metadata(blob).unwrap();
    assert_eq!(blob_meta.typename(), Some("vineyard::Blob"));
    assert_eq!(blob_meta.nbytes(), 1000);
    // Several at once, and a missing one.
    let both = reader.get_metadatas(&[inner_id, outer_id]).unwrap();
    assert_eq!(both[0].id(), Some(inner_id));
    assert_eq!(both[1].id(), Some(outer_id));
    let missing = ObjectID(0x0000_0000_0000_0abc);
    let error = reader.get_metadatas(&[inner_id, missing]).unwrap_err();
    assert_eq!(error.code(), Code::ObjectNotExists);
    assert!(error.to_string().contains("o0000000000000abc"), "{error}");
}

#[test]
fn list_by_glob_and_regex_with_limit() {
    let server = TestServer::start();
    let client = server.client();
    for index in 0..4 {
        object_with_members(&client, &format!("test::List<{index}>"), &[]);
    }
    object_with_members(&client, "test::Other", &[]);
    let blob = client.put_bytes(b"listed as a blob").unwrap();

    let typenames = |pattern: &str, regex: bool, limit: usize| -> Vec<String> {
        let mut names: Vec<String> = client
            .list_metadatas(pattern, regex, limit)
            .unwrap()
            .iter()
            .map(|meta| meta.typename().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        typenames("test::List<*>", false, 10),
        [
            "test::List<0>",
            "test::List<1>",
            "test::List<2>",
            "test::List<3>"
        ]
    );
    assert_eq!(typenames("test::List<*>", false, 2).len(), 2);
    assert_eq!(
        typenames("test::List<[13]>", false, 10),
        ["test::List<1>", "test::List<3>"]
    );
    assert_eq!(typenames(r"test::List<[0-2]>", true, 10).len(), 3);
    assert_eq!(typenames(r"test::(Other|List<0>)", true, 10).len(), 2);
    assert_eq!(typenames("test::*", false, 100).len(), 5);
    assert!(typenames("nothing::*", false, 10).is_empty());
    let blobs = client.list_metadatas("vineyard::Blob", false, 10).unwrap();
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].id(), Some(blob));
    let error = client.list_metadatas("(", true, 10).unwrap_err();
    assert!(error.to_string().contains("invalid pattern"), "{error}");
}

#[test]
fn delete_keeps_used_objects_unless_forced() {
    let server = TestServer::start();
    let client = server.client();
    let blob = client.put_bytes(&pattern(4096, 2)).unwrap();
    let member = object_with_blobs(&client, "test::Member", &[blob]);
    let user = object_with_members(&client, "test::User", &[member]);

    // Used as a member elsewhere: kept, silently.
    assert_eq!(client.delete(&[member], false, true).unwrap(), vec![]);
    assert!(exists(&client, member) && exists(&client, user) && exists(&client, blob));
    // A blob member is used too.
    client.delete(&[blob], false, true).unwrap();
    assert!(exists(&client, blob));

    // Forced: the users go first, then the object and its blob.
    let deleted = client.delete(&[member], true, false).unwrap();
    assert_eq!(deleted, vec![blob]);
    assert!(!exists(&client, member) && !exists(&client, user) && !exists(&client, blob));
    assert_eq!(client.status().unwrap().memory_usage, 0);
}

#[test]
fn deep_delete_takes_unused_members() {
    let server = TestServer::start();
    let client = server.client();
    let blob = client.put_bytes(&pattern(128, 3)).unwrap();
    let shallow_member = object_with_blobs(&client, "test::Member", &[blob]);
    let shallow_user = object_with_members(&client, "test::User", &[shallow_member]);
    let deep_member = object_with_members(&client, "test::Member", &[]);
    let deep_user = object_with_members(&client, "test::User", &[deep_member]);
    let shared_member = object_with_members(&client, "test::Member", &[]);
    let first_sharer = object_with_members(&client, "test::User", &[shared_member]);
    let second_sharer = object_with_members(&client, "test::User", &[shared_member]);

    client.delete(&[shallow_user], false, false).unwrap();
    assert!(!exists(&client, shallow_user));
    assert!(
        exists(&client, shallow_member) && exists(&client, blob),
        "not deep"
    );

    client.delete(&[deep_user], false, true).unwrap();
    assert!(!exists(&client, deep_user) && !exists(&client, deep_member));

    client.delete(&[first_sharer], false, true).unwrap();
    assert!(
        exists(&client, shared_member),
        "still used by the second sharer"
    );
    client.delete(&[second_sharer], false, true).unwrap();
    assert!(!exists(&client, shared_member));

    // Now unused: a plain delete takes the object and its blob.
    assert_eq!(
        client.delete(&[shallow_member], false, false).unwrap(),
        vec![blob]
    );
    // Unknown ids are ignored.
    assert!(client
        .delete(&[ObjectID(12345)], false, true)
        .unwrap()
        .is_empty());
}

#[test]
fn blob_shared_by_two_objects_stays_until_both_are_gone() {
    let server = TestServer::start();
    let client = server.client();
    let blob = client.put_bytes(&pattern(1 << 16, 4)).unwrap();
    let first = object_with_blobs(&client, "test::A", &[blob]);
    let second = object_with_blobs(&client, "test::B", &[blob, blob]);
    assert!(client.delete(&[first], false, true).unwrap().is_empty());
    assert!(exists(&client, blob));
    assert_eq!(client.delete(&[second], false, true).unwrap(), vec![blob]);
    assert!(!exists(&client, blob));
    assert_eq!(client.status().unwrap().memory_usage, 0);
}

#[test]
fn persist_marks_the_object_and_its_members() {
    let server = TestServer::start();
    let client = server.client();
    let blob = client.put_bytes(b"persisted bytes").unwrap();
    let member = object_with_blobs(&client, "test::Member", &[blob]);
    let object = object_with_members(&client, "test::Top", &[member]);
    assert!(!client.is_persisted(object).unwrap());
    client.persist(object).unwrap();
    assert!(client.is_persisted(object).unwrap());
    assert!(client.is_persisted(member).unwrap());
    assert!(!client.get_metadata(object).unwrap().is_transient());
    assert!(!client.is_persisted(blob).unwrap());
    assert!(client.persist(blob).is_err(), "blobs cannot be persisted");
    let missing = ObjectID(77);
    // Vineyard answers unknown ids here with MetaTreeSubtreeNotExists (27).
    let error = client.persist(missing).unwrap_err();
    assert_eq!(error.code(), Code::MetaTreeSubtreeNotExists, "{error}");
    assert!(error.to_string().contains(&missing.to_string()), "{error}");
    let error = client.is_persisted(missing).unwrap_err();
    assert_eq!(error.code(), Code::MetaTreeSubtreeNotExists, "{error}");
}

#[test]
fn names_need_persisted_objects_and_die_with_them() {
    let server = TestServer::start();
    let client = server.client();
    let object = object_with_members(&client, "test::Named", &[]);
    let error = client.put_name(object, "answer").unwrap_err();
    assert_eq!(error.code(), Code::Invalid);
    assert!(error.to_string().contains("persist"), "{error}");

    client.persist(object).unwrap();
    client.put_name(object, "answer").unwrap();
    client.put_name(object, "alias").unwrap();
    assert_eq!(client.get_name("answer", false).unwrap(), object);
    let meta = client.get_metadata(object).unwrap();
    assert!(meta.get("__name").and_then(Value::as_str).is_some());

    let mut names = client.list_names("*", false, 10).unwrap();
    names.sort();
    assert_eq!(
        names,
        [
            ("alias".to_string(), object),
            ("answer".to_string(), object)
        ]
    );
    assert_eq!(client.list_names("ans*", false, 10).unwrap().len(), 1);
    assert_eq!(client.list_names("a.*", true, 1).unwrap().len(), 1);

    client.drop_name("alias").unwrap();
    client.drop_name("never-existed").unwrap();
    let error = client.get_name("alias", false).unwrap_err();
    assert_eq!(error.code(), Code::ObjectNotExists);
    assert!(error.to_string().contains("alias"), "{error}");

    let blob = client.put_bytes(b"blobs have no names").unwrap();
    assert!(client.put_name(blob, "blob").is_err());
    assert!(client.put_name(ObjectID(99), "ghost").is_err());

    client.delete(&[object], false, true).unwrap();
    assert_eq!(
        client.get_name("answer", false).unwrap_err().code(),
        Code::ObjectNotExists
    );
    assert!(client.list_names("*", false, 10).unwrap().is_empty());
}

#[test]
fn get_name_with_wait_unblocks_when_the_name_appears() {
    let server = TestServer::start();
    let waiter_client = server.client();
    let waiter = std::thread::spawn(move || waiter_client.get_name("later", true));

    let client = server.client();
    let deadline = Instant::now() + Duration::from_secs(5);
    while client.status().unwrap().deferred_requests != 1 {
        assert!(
            Instant::now() < deadline,
            "the waiting request never parked"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!waiter.is_finished());
    let object = object_with_members(&client, "test::Later", &[]);
    client.persist(object).unwrap();
    client.put_name(object, "later").unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), object);
    assert_eq!(client.status().unwrap().deferred_requests, 0);
}

#[test]
fn clear_deletes_everything() {
    let server = TestServer::start();
    let client = server.client();
    let blob = client.put_bytes(&pattern(1 << 20, 9)).unwrap();
    let loose = client.put_bytes(&pattern(1 << 10, 9)).unwrap();
    let object = object_with_blobs(&client, "test::Cleared", &[blob]);
    let user = object_with_members(&client, "test::Cleared", &[object]);
    client.persist(user).unwrap();
    client.put_name(user, "cleared").unwrap();
    let unsealed = client.create_blob(4096).unwrap();

    client.clear().unwrap();
    for id in [blob, loose, object, user] {
        assert!(!exists(&client, id), "{id} survived clear");
    }
    assert!(client.list_metadatas("*", false, 100).unwrap().is_empty());
    assert!(client.list_names("*", false, 100).unwrap().is_empty());
    assert_eq!(
        client.status().unwrap().memory_usage,
        4096,
        "the writer keeps its buffer"
    );
    unsealed.seal().unwrap();
}

#[test]
fn invalid_trees_are_refused_with_a_reason() {
    let server = TestServer::start();
    let client = server.client();
    let mut missing_member = ObjectMeta::with_typename("test::Broken");
    missing_member.add_member_id("ghost_", ObjectID(0x0000_0000_0000_0042));
    let error = client.create_metadata(&missing_member).unwrap_err();
    assert_eq!(error.code(), Code::MetaTreeInvalid);
    let message = error.to_string();
    assert!(
        message.contains("ghost_") && message.contains("o0000000000000042"),
        "{message}"
    );

    let unsealed = client.create_blob(64).unwrap();
    let mut unsealed_member = ObjectMeta::with_typename("test::Broken");
    unsealed_member.add_member_id("buffer_", unsealed.id());
    let error = client.create_metadata(&unsealed_member).unwrap_err();
    assert!(error.to_string().contains("not sealed"), "{error}");

    let error = client
        .create_metadata(&ObjectMeta::with_typename("vineyard::Blob"))
        .unwrap_err();
    assert!(error.to_string().contains("create_buffer"), "{error}");
    assert_eq!(client.list_metadatas("*", false, 10).unwrap().len(), 0);
}

#[test]
fn nesting_is_bounded_and_the_server_survives() {
    let server = TestServer::start();
    let client = server.client();
    let mut inner = object_with_members(&client, "chain::Link", &[]);
    let mut refused = None;
    for level in 2..=80 {
        let mut meta = ObjectMeta::with_typename("chain::Link");
        meta.add_member_id("next", inner);
        match client.create_metadata(&meta) {
            Ok(created) => inner = created.id().unwrap(),
            Err(error) => {
                refused = Some((level, error));
                break;
            }
        }
    }
    let (level, error) = refused.expect("a chain of 80 levels is refused");
    assert_eq!(level, vineyard_core::table::MAX_DEPTH + 1);
    assert_eq!(error.code(), Code::MetaTreeInvalid, "{error}");
    assert!(error.to_string().contains("levels"), "{error}");
    // The deepest allowed tree still reads back whole.
    let deepest = client.get_metadata(inner).unwrap();
    assert_eq!(deepest.typename(), Some("chain::Link"));
    assert!(server.client().status().is_ok());
}
