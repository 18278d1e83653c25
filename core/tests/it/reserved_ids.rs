//! Objects a client names itself (reserved ids) and creates without waiting: every other
//! client sees them at once, errors reach the creator's next request, and ids are checked.

use std::time::{Duration, Instant};

use serde_json::json;
use vineyard_core::{Error, IpcClient, ObjectID, ObjectMeta};

use crate::blobs::pattern;
use crate::raw_frames::{expect_error, RawConnection};
use vineyard_test_harness::TestServer;

/// A `test::Wrapper` over a new blob of `payload`, created without waiting.
fn wrapped_unawaited(client: &IpcClient, payload: &[u8]) -> ObjectID {
    let mut writer = client.create_blob(payload.len()).unwrap();
    writer.copy_from_slice(payload);
    let blob = writer.seal_before_next_request().unwrap();
    let mut meta = ObjectMeta::with_typename("test::Wrapper");
    meta.add_member_id("buffer_", blob);
    created_unawaited(client, &meta)
}

/// The id of `meta`, created without waiting.
fn created_unawaited(client: &IpcClient, meta: &ObjectMeta) -> ObjectID {
    client
        .create_metadata_unawaited(meta)
        .unwrap()
        .id()
        .unwrap()
}

/// Reserves `count` ids on a raw connection; returns the first.
fn reserve(connection: &mut RawConnection, count: u64) -> u64 {
    let reply = connection.request(&json!({"type": "reserve_ids_request", "count": count}));
    assert_eq!(reply["type"], "reserve_ids_reply", "{reply:?}");
    reply["first"].as_u64().expect("first")
}

#[test]
fn unawaited_creates_are_visible_to_other_clients_at_once() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = server.client();
    // More than one run of reserved ids.
    for seed in 0..600u32 {
        let payload = pattern(16 + seed as usize, seed as u8);
        let id = wrapped_unawaited(&writer, &payload);
        let meta = reader.get_metadata(id).unwrap();
        assert_eq!(meta.id(), Some(id));
        assert_eq!(meta.get("signature").and_then(|s| s.as_u64()), Some(id.0));
        let blob = meta.member("buffer_").unwrap().id().unwrap();
        assert_eq!(&reader.get_blob(blob).unwrap()[..], &payload[..]);
    }
    // Small blobs sent whole, without waiting, likewise.
    for seed in 0..300u32 {
        let payload = pattern(1 + seed as usize * 7, seed as u8);
        let blob = writer.put_blob_unawaited(&payload).unwrap();
        assert!(blob.is_blob());
        assert_eq!(&reader.get_blob(blob).unwrap()[..], &payload[..]);
    }
    // A blob sealed without waiting, with nothing after it, is readable by others too.
    let mut lone = writer.create_blob(8).unwrap();
    lone.copy_from_slice(b"12345678");
    let lone = lone.seal_before_next_request().unwrap();
    assert_eq!(&reader.get_blob(lone).unwrap()[..], b"12345678");
}

#[test]
fn listings_include_unawaited_creates() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = server.client();
    let mut made = Vec::new();
    for index in 0..50 {
        let mut meta = ObjectMeta::with_typename("test::Listed");
        meta.insert("index", index);
        made.push(created_unawaited(&writer, &meta));
    }
    let listed = reader.list_metadatas("test::Listed", false, 1000).unwrap();
    let mut listed: Vec<ObjectID> = listed.iter().filter_map(ObjectMeta::id).collect();
    listed.sort();
    made.sort();
    assert_eq!(listed, made);
}

#[test]
fn a_failed_unawaited_create_fails_the_next_request_and_names_the_object() {
    let server = TestServer::start();
    let client = server.client();
    let mut meta = ObjectMeta::with_typename("test::Wrapper");
    let missing = ObjectID(0x42);
    meta.add_member_id("first", missing);
    let id = created_unawaited(&client, &meta);

    let failed = client.exists(id).unwrap_err().to_string();
    assert!(
        failed.contains(&id.to_string()) && failed.contains(&missing.to_string()),
        "{failed}"
    );
    // In step again, and the object does not exist for anyone.
    assert!(!client.exists(id).unwrap());
    assert!(matches!(
        server.client().get_metadata(id),
        Err(Error::ObjectNotExists { .. })
    ));
}

#[test]
fn an_early_failure_waits_for_the_next_awaited_request_and_later_creates_stand() {
    let server = TestServer::start();
    let client = server.client();
    let mut broken = ObjectMeta::with_typename("test::Wrapper");
    broken.add_member_id("first", ObjectID(0x42));
    let failed = created_unawaited(&client, &broken);
    // More than the replies a client leaves unread: the early error is read meanwhile.
    let made: Vec<ObjectID> = (0..200)
        .map(|index| {
            let mut meta = ObjectMeta::with_typename("test::Later");
            meta.insert("index", index);
            created_unawaited(&client, &meta)
        })
        .collect();
    let reported = client.flush().unwrap_err().to_string();
    assert!(reported.contains(&failed.to_string()), "{reported}");
    client.flush().unwrap();
    let reader = server.client();
    for id in made {
        assert!(reader.exists(id).unwrap(), "{id} was created");
    }
}

#[test]
fn ids_must_be_reserved_unused_and_in_order() {
    let server = TestServer::start();
    let mut connection = RawConnection::registered(server.socket());
    for count in [0, 5000] {
        let reply = connection.request(&json!({"type": "reserve_ids_request", "count": count}));
        let (_, message) = expect_error(&reply);
        assert!(message.contains("1 to 4096"), "{message}");
    }
    let first = reserve(&mut connection, 2);
    let create = |id: u64| {
        json!({"type": "create_data_request", "assigned_id": id,
               "content": {"typename": "test::Named", "instance_id": 0}})
    };
    let reply = connection.request(&create(first + 1));
    assert_eq!(reply["id"].as_u64(), Some(first + 1), "{reply:?}");
    for refused in [first, first + 1, first + 2, 12345] {
        let (_, message) = expect_error(&connection.request(&create(refused)));
        assert!(message.contains("reserve_ids_request"), "{message}");
    }
    // Another connection cannot use them either.
    let mut other = RawConnection::registered(server.socket());
    let (_, message) = expect_error(&other.request(&create(first)));
    assert!(message.contains("not an unused id"), "{message}");
}

#[test]
fn put_blob_takes_a_reserved_blob_id_and_hex_bytes() {
    let server = TestServer::builder().size(1 << 20).start();
    let mut connection = RawConnection::registered(server.socket());
    let first = reserve(&mut connection, 4);
    let blob =
        |id: u64, data: &str| json!({"type": "put_blob_request", "assigned_id": id, "data": data});
    let reply = connection.request(&blob(first | 1 << 63, "00ff10"));
    assert_eq!(reply["type"], "put_blob_reply", "{reply:?}");
    let stored = server.client().get_blob(ObjectID(first | 1 << 63)).unwrap();
    assert_eq!(&stored[..], &[0x00, 0xff, 0x10]);
    for (request, expected) in [
        (blob(first + 1, "00"), "blob id"),
        (blob((first + 1) | 1 << 63, ""), "at least one byte"),
        (blob((first + 1) | 1 << 63, "0g"), "hex text"),
        (blob(first | 1 << 63, "01"), "not an unused id"),
    ] {
        let (_, message) = expect_error(&connection.request(&request));
        assert!(message.contains(expected), "{message}");
    }
    let usage = server.memory_usage();
    let full = server.client().status().unwrap().memory_limit;
    let too_big = "00".repeat(full as usize + 1);
    let reply = connection.request(&blob((first + 2) | 1 << 63, &too_big));
    let (_, message) = expect_error(&reply);
    assert!(message.contains("memory"), "{message}");
    assert_eq!(
        server.memory_usage(),
        usage,
        "a refused blob keeps no memory"
    );
}

#[test]
fn a_request_for_an_id_whose_create_is_half_sent_waits_for_it() {
    let server = TestServer::start();
    let mut creator = RawConnection::registered(server.socket());
    let first = reserve(&mut creator, 4);
    let body = serde_json::to_vec(&json!({
        "type": "create_data_request", "assigned_id": first,
        "content": {"typename": "test::Late", "instance_id": 0}}))
    .unwrap();
    creator.send_header(body.len() as u64);

    let reader = server.client();
    let asking = std::thread::spawn(move || reader.get_metadata(ObjectID(first)));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!asking.is_finished(), "answered before the create arrived");
    creator.send_raw(&body);
    let meta = asking.join().unwrap().unwrap();
    assert_eq!(meta.typename(), Some("test::Late"));

    // An id the creator reserved and never used is a plain miss once it is idle.
    let started = Instant::now();
    let unused = server.client().get_metadata(ObjectID(first + 1));
    assert!(
        matches!(unused, Err(Error::ObjectNotExists { .. })),
        "{unused:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited for an idle creator"
    );
}
