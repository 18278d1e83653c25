//! Reference counts: a blob a client holds is never freed under it, whoever deletes it.

use serde_json::json;
use vineyard_core::{Error, ObjectMeta};

use crate::blobs::pattern;
use crate::raw_frames::RawConnection;
use vineyard_test_harness::TestServer;

const SIZE: usize = 1 << 20;

#[test]
fn delete_of_a_held_blob_waits_for_the_release() {
    let server = TestServer::start();
    let holder = server.client();
    let deleter = server.client();
    let baseline = server.memory_usage();
    let bytes = pattern(SIZE, 3);
    let id = deleter.put_bytes(&bytes).unwrap();
    let held = holder.get_blob(id).unwrap();
    let held_address = held.as_ptr();

    assert_eq!(deleter.delete(&[id], false, true).unwrap(), vec![id]);
    // Gone for everybody else at once...
    assert!(!deleter.exists(id).unwrap());
    assert!(matches!(
        deleter.get_blob(id),
        Err(Error::ObjectNotExists { .. })
    ));
    assert!(matches!(
        holder.get_blob(id),
        Err(Error::ObjectNotExists { .. })
    ));
    // ...but its memory stays allocated while `held` lives: new blobs go elsewhere.
    assert_eq!(server.memory_usage(), baseline + SIZE as u64);
    let other = deleter.put_bytes(&pattern(SIZE, 200)).unwrap();
    assert_eq!(
        &held[..],
        &bytes[..],
        "a live view must never show another blob's bytes"
    );
    deleter.delete(&[other], false, true).unwrap();
    assert_eq!(server.memory_usage(), baseline + SIZE as u64);

    drop(held);
    server.wait_for_memory_usage(baseline);
    // The freed range is handed out again: the new blob sits where the old one was.
    let reused = deleter.put_bytes(&pattern(SIZE, 99)).unwrap();
    let fresh = holder.get_blob(reused).unwrap();
    assert_eq!(fresh.as_ptr(), held_address);
    assert_eq!(&fresh[..], &pattern(SIZE, 99)[..]);
}

#[test]
fn clones_of_a_blob_share_one_hold() {
    let server = TestServer::start();
    let holder = server.client();
    let deleter = server.client();
    let id = deleter.put_bytes(&pattern(SIZE, 5)).unwrap();
    let first = holder.get_blob(id).unwrap();
    let second = holder.get_blob(id).unwrap();
    let copy = first.clone();
    deleter.delete(&[id], false, true).unwrap();
    drop(first);
    drop(second);
    assert_eq!(
        server.memory_usage(),
        SIZE as u64,
        "`copy` still holds the blob"
    );
    assert_eq!(&copy[..], &pattern(SIZE, 5)[..]);
    drop(copy);
    server.wait_for_memory_usage(0);
}

#[test]
fn blob_member_of_a_deleted_object_waits_for_its_reader() {
    let server = TestServer::start();
    let holder = server.client();
    let owner = server.client();
    let blob = owner.put_bytes(&pattern(SIZE, 8)).unwrap();
    let mut meta = ObjectMeta::with_typename("test::Holder");
    meta.add_member("buffer_", owner.get_metadata(blob).unwrap());
    let object = owner.create_metadata(&meta).unwrap().id().unwrap();
    let held = holder.get_blob(blob).unwrap();

    assert_eq!(owner.delete(&[object], false, true).unwrap(), vec![blob]);
    assert_eq!(server.memory_usage(), SIZE as u64);
    assert_eq!(&held[..], &pattern(SIZE, 8)[..]);
    drop(held);
    server.wait_for_memory_usage(0);
}

#[test]
fn disconnect_releases_what_the_connection_held() {
    let server = TestServer::start();
    let owner = server.client();
    let baseline = server.memory_usage();
    let id = owner.put_bytes(&pattern(SIZE, 4)).unwrap();

    // A reader that goes away without releasing: a raw connection that gets the blob
    // (the server then holds it for that connection) and is dropped.
    let mut reader = RawConnection::registered(server.socket());
    let reply = reader.request(&json!({"type": "get_buffers_request", "ids": [id.as_u64()]}));
    assert_eq!(reply["type"], "get_buffers_reply", "{reply:?}");
    assert_eq!(reply["num"], 1);

    owner.delete(&[id], false, true).unwrap();
    assert_eq!(
        server.memory_usage(),
        baseline + SIZE as u64,
        "held by the raw reader"
    );
    drop(reader);
    server.wait_for_memory_usage(baseline);
    assert!(owner
        .create_blob(server_capacity_minus(&server, baseline))
        .is_ok());
}

#[test]
fn dropping_client_and_blob_together_frees_a_deleted_blob() {
    let server = TestServer::start();
    let owner = server.client();
    let id = owner.put_bytes(&pattern(SIZE, 6)).unwrap();
    let reader = server.client();
    let held = reader.get_blob(id).unwrap();
    owner.delete(&[id], false, true).unwrap();
    drop(reader);
    assert_eq!(
        server.memory_usage(),
        SIZE as u64,
        "the blob keeps its connection alive"
    );
    assert_eq!(&held[..], &pattern(SIZE, 6)[..]);
    drop(held);
    server.wait_for_memory_usage(0);
}

/// All the memory that is free, as one allocation size.
fn server_capacity_minus(server: &TestServer, used: u64) -> usize {
    let status = server.client().status().unwrap();
    (status.memory_limit - used) as usize
}

#[test]
fn disconnect_while_waiting_releases_what_the_connection_held() {
    let server = TestServer::start();
    let owner = server.client();
    let id = owner.put_bytes(&pattern(SIZE, 11)).unwrap();
    let mut reader = RawConnection::registered(server.socket());
    reader.request(&json!({"type": "get_buffers_request", "ids": [id.as_u64()]}));
    // The reader parks on a name that never comes, then goes away (a killed process).
    reader.send_json(&json!({"type": "get_name_request", "name": "never", "wait": true}));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while owner.status().unwrap().deferred_requests != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never parked"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(reader);
    owner.delete(&[id], false, true).unwrap();
    server.wait_for_memory_usage(0);
    assert_eq!(owner.status().unwrap().deferred_requests, 0);
}
