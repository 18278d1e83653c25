//! Fewer round trips: `get_objects` maps an object's blobs with its tree, releases and
//! pipelined seals are not waited for, and what they leave unread is read in order.

use vineyard_core::{Error, IpcClient, ObjectID, ObjectMeta};

use crate::blobs::pattern;
use vineyard_test_harness::TestServer;

/// An object with one blob member per byte vector.
fn object_over(client: &IpcClient, payloads: &[Vec<u8>]) -> ObjectID {
    let mut meta = ObjectMeta::with_typename("test::Columns");
    for (index, payload) in payloads.iter().enumerate() {
        let blob = client.put_bytes(payload).unwrap();
        meta.add_member_id(&format!("column_{index}"), blob);
    }
    client.create_metadata(&meta).unwrap().id().unwrap()
}

#[test]
fn get_objects_maps_the_local_blobs_with_the_trees() {
    let server = TestServer::start();
    let writer = server.client();
    let first = object_over(&writer, &[pattern(5000, 1), pattern(70_000, 2)]);
    let second = object_over(&writer, &[pattern(10, 3)]);

    let reader = server.client();
    let (metas, blobs) = reader.get_objects(&[second, first]).unwrap();
    assert_eq!(metas.len(), 2);
    assert_eq!(metas[0].id(), Some(second));
    assert_eq!(metas[1].id(), Some(first));
    assert_eq!(blobs.len(), 3, "every blob of both trees, once");
    for (meta, sizes) in [(&metas[0], vec![10]), (&metas[1], vec![5000, 70_000])] {
        for (index, size) in sizes.into_iter().enumerate() {
            let member = meta.member(&format!("column_{index}")).unwrap();
            let blob = blobs
                .iter()
                .find(|blob| Some(blob.id()) == member.id())
                .expect("the member's blob is mapped");
            assert_eq!(blob.size(), size);
            let seed = if size == 10 { 3 } else { index as u8 + 1 };
            assert_eq!(&blob[..], &pattern(size, seed)[..]);
        }
    }
    assert!(matches!(
        reader.get_objects(&[first, ObjectID(0x42)]),
        Err(Error::ObjectNotExists { id }) if id == ObjectID(0x42)
    ));
}

#[test]
fn blobs_from_get_objects_are_held_until_dropped() {
    let server = TestServer::start();
    let writer = server.client();
    let baseline = server.memory_usage();
    let id = object_over(&writer, &[pattern(1 << 20, 9)]);
    let reader = server.client();
    let (_, blobs) = reader.get_objects(&[id]).unwrap();

    writer.delete(&[id], false, true).unwrap();
    assert!(!writer.exists(id).unwrap());
    assert!(server.memory_usage() > baseline, "held: not freed yet");
    assert_eq!(&blobs[0][..], &pattern(1 << 20, 9)[..]);
    drop(blobs);
    // The release is sent without waiting for its reply; the server frees soon after.
    server.wait_for_memory_usage(baseline);
}

#[test]
fn many_unawaited_releases_keep_the_connection_in_step() {
    let server = TestServer::start();
    let writer = server.client();
    let ids: Vec<ObjectID> = (0..300)
        .map(|seed| writer.put_bytes(&pattern(100, seed as u8)).unwrap())
        .collect();
    let reader = server.client();
    for (seed, &id) in ids.iter().enumerate() {
        // Each blob dropped at once: 300 releases, more than are ever left unread.
        assert_eq!(
            &reader.get_blob(id).unwrap()[..],
            &pattern(100, seed as u8)[..]
        );
    }
    // Every reply after those lines up with its own request.
    assert!(reader.exists(ids[7]).unwrap());
    assert_eq!(reader.get_metadata(ids[9]).unwrap().id(), Some(ids[9]));
    assert_eq!(reader.status().unwrap().ipc_connections, 2);
}

#[test]
fn a_pipelined_seal_is_done_before_the_next_request_returns() {
    let server = TestServer::start();
    let client = server.client();
    let mut writer = client.create_blob(64).unwrap();
    writer.copy_from_slice(&pattern(64, 4));
    let blob = writer.seal_before_next_request().unwrap();
    let mut meta = ObjectMeta::with_typename("test::Wrapper");
    meta.add_member_id("buffer_", blob);
    let id = client.create_metadata(&meta).unwrap().id().unwrap();

    let other = server.client();
    assert_eq!(&other.get_blob(blob).unwrap()[..], &pattern(64, 4)[..]);
    assert_eq!(other.get_metadata(id).unwrap().id(), Some(id));

    let mut lone = client.create_blob(8).unwrap();
    lone.copy_from_slice(b"12345678");
    let lone = lone.seal_before_next_request().unwrap();
    client.flush().unwrap();
    assert_eq!(&other.get_blob(lone).unwrap()[..], b"12345678");
}
