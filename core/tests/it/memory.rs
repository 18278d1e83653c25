//! A full store answers `NotEnoughMemory` and keeps serving; deleted memory is reusable at once.

use vineyard_core::{Code, Error};

use vineyard_test_harness::{TestServer, TEST_SIZE};

const MIB: u64 = 1 << 20;

#[test]
fn full_store_is_not_enough_memory_then_reusable_after_delete() {
    let server = TestServer::start();
    let client = server.client();
    let first = client.put_bytes(&vec![1; (40 * MIB) as usize]).unwrap();

    match client.create_blob((40 * MIB) as usize) {
        Err(Error::NotEnoughMemory {
            requested,
            available,
        }) => {
            assert_eq!(requested, 40 * MIB);
            assert_eq!(available, TEST_SIZE - 40 * MIB);
        }
        Err(other) => panic!("expected NotEnoughMemory, got {other:?}"),
        Ok(_) => panic!("40 MiB more fit into a 64 MiB store holding 40 MiB"),
    }
    let error = client
        .create_blob(TEST_SIZE as usize + 1)
        .expect_err("more than the whole store");
    assert_eq!(error.code(), Code::NotEnoughMemory);
    assert!(
        error.to_string().contains("--size"),
        "the message says what to do: {error}"
    );

    // The server and this connection carry on.
    let status = client.status().unwrap();
    assert_eq!(status.memory_usage, 40 * MIB);
    assert_eq!(status.memory_limit, TEST_SIZE);
    assert_eq!(&client.get_blob(first).unwrap()[..3], &[1, 1, 1]);
    assert!(server.client().put_bytes(b"small still fits").is_ok());

    client.clear().unwrap();
    let second = client.put_bytes(&vec![2; (40 * MIB) as usize]).unwrap();
    client.delete(&[second], false, true).unwrap();
    // Freed by delete, allocated again at once, several times over.
    for round in 0..3u8 {
        let id = client.put_bytes(&vec![round; (60 * MIB) as usize]).unwrap();
        client.delete(&[id], false, true).unwrap();
    }
    assert_eq!(client.status().unwrap().memory_usage, 0);
}

#[test]
fn a_fragmented_store_reports_the_largest_free_range() {
    let server = TestServer::start();
    let client = server.client();
    let parts: Vec<_> = (0..3)
        .map(|part| client.put_bytes(&vec![part; (20 * MIB) as usize]).unwrap())
        .collect();
    client.delete(&[parts[1]], false, true).unwrap();
    // 24 MiB are free, but in pieces of 20 and 4 MiB.
    match client.create_blob((22 * MIB) as usize) {
        Err(Error::NotEnoughMemory {
            requested,
            available,
        }) => assert_eq!((requested, available), (22 * MIB, 20 * MIB)),
        other => panic!("expected NotEnoughMemory, got {other:?}"),
    }
    assert!(client.create_blob((20 * MIB) as usize).is_ok());
}

#[test]
fn create_buffers_is_all_or_nothing() {
    let server = TestServer::start();
    let mut raw = crate::raw_frames::RawConnection::registered(server.socket());
    let reply = raw.request(&serde_json::json!({
        "type": "create_buffers_request", "num": 3,
        "sizes": [10 * MIB, 10 * MIB, TEST_SIZE],
    }));
    let (code, message) = crate::raw_frames::expect_error(&reply);
    assert_eq!(code, Code::NotEnoughMemory.as_i64(), "{message}");
    assert_eq!(
        server.memory_usage(),
        0,
        "the first two buffers were given back"
    );
}

#[test]
fn absurd_sizes_are_not_enough_memory() {
    let server = TestServer::start();
    let mut raw = crate::raw_frames::RawConnection::registered(server.socket());
    for size in [u64::MAX, u64::MAX - 63, 1 << 63, TEST_SIZE + 1] {
        let reply =
            raw.request(&serde_json::json!({"type": "create_buffer_request", "size": size}));
        let (code, message) = crate::raw_frames::expect_error(&reply);
        assert_eq!(
            code,
            Code::NotEnoughMemory.as_i64(),
            "size {size}: {message}"
        );
        assert_eq!(reply["requested"], size);
    }
    assert_eq!(server.memory_usage(), 0);
    // The allocator is intact: all of it can still be had, once.
    let client = server.client();
    let whole = client.create_blob(TEST_SIZE as usize).unwrap();
    assert!(client.create_blob(1).is_err());
    drop(whole);
    server.wait_for_memory_usage(0);
}

#[test]
fn shrink_returns_the_tail() {
    let server = TestServer::start();
    let mut raw = crate::raw_frames::RawConnection::registered(server.socket());
    let reply = raw.request(&serde_json::json!({"type": "create_buffer_request", "size": MIB}));
    let id = reply["id"].as_u64().unwrap();
    let reply =
        raw.request(&serde_json::json!({"type": "shrink_buffer_request", "id": id, "size": 100}));
    assert_eq!(reply["type"], "shrink_buffer_reply", "{reply:?}");
    assert_eq!(
        server.memory_usage(),
        128,
        "100 bytes reserve two 64-byte lines"
    );
    let reply =
        raw.request(&serde_json::json!({"type": "shrink_buffer_request", "id": id, "size": 200}));
    crate::raw_frames::expect_error(&reply);
    drop(raw);
    server.wait_for_memory_usage(0);
}

#[test]
fn an_all_or_nothing_write_that_fails_removes_what_it_created() {
    let server = TestServer::builder().size(8 << 20).start();
    let client = server.client();
    let kept = client.put_bytes(b"kept").unwrap();
    let before = client.status().unwrap().memory_usage;
    let failed = client.all_or_nothing(|client| {
        let small = client.put_blob_unawaited(b"small blob")?;
        let large = client.put_bytes(&vec![7u8; 3 << 20])?;
        let mut meta = vineyard_core::ObjectMeta::with_typename("test::Pair");
        meta.add_member_id("first", small);
        meta.add_member_id("second", large);
        client.create_metadata_unawaited(&meta)?;
        client.create_blob(6 << 20).map(drop)
    });
    assert!(
        matches!(failed, Err(vineyard_core::Error::NotEnoughMemory { .. })),
        "{failed:?}"
    );
    assert_eq!(client.status().unwrap().memory_usage, before);
    assert!(client
        .list_metadatas("test::*", false, 10)
        .unwrap()
        .is_empty());
    assert!(client.exists(kept).unwrap());
    // Nested writes join the outermost; a write that succeeds keeps everything.
    let id = client
        .all_or_nothing(|client| client.all_or_nothing(|client| client.put_bytes(b"ok")))
        .unwrap();
    assert!(client.exists(id).unwrap());
}
