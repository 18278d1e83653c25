//! Blobs: create, write, seal, get from another connection, abort, empty and missing blobs.

use serde_json::json;
use vineyard_core::{Code, Error, ObjectID, EMPTY_BLOB_ID};

use crate::raw_frames::{expect_error, RawConnection};
use vineyard_test_harness::TestServer;

/// Bytes that differ at every position, so misplaced ranges show.
pub fn pattern(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|index| (index as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn sealed_blob_is_seen_by_another_client() {
    let server = TestServer::start();
    let writer_client = server.client();
    let reader_client = server.client();
    let bytes = pattern(100_000, 7);

    let mut writer = writer_client.create_blob(bytes.len()).unwrap();
    assert_eq!(writer.size(), bytes.len());
    assert!(writer.id().is_blob());
    writer.copy_from_slice(&bytes);
    let id = writer.seal().unwrap();

    let blob = reader_client.get_blob(id).unwrap();
    assert_eq!(blob.id(), id);
    assert_eq!(blob.size(), bytes.len());
    assert_eq!(&blob[..], &bytes[..]);
    assert!(reader_client.exists(id).unwrap());
    let listed = reader_client.get_blobs(&[id, EMPTY_BLOB_ID]).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(&listed[0][..], &bytes[..]);
    assert_eq!(listed[1].size(), 0);
}

#[test]
fn blobs_are_views_of_one_mapping_per_connection() {
    let server = TestServer::builder().size(128 << 20).start();
    let client = server.client();
    let big = client.put_bytes(&vec![0xab; 64 << 20]).unwrap();
    let small = client.put_bytes(&pattern(1024, 2)).unwrap();

    let reader = server.client();
    let first = reader.get_blob(big).unwrap();
    let again = reader.get_blob(big).unwrap();
    assert_eq!(
        first.as_ptr(),
        again.as_ptr(),
        "a second get maps nothing new"
    );
    let small_blob = reader.get_blob(small).unwrap();
    let small_again = reader.get_blobs(&[small]).unwrap().remove(0);
    assert_eq!(small_blob.as_ptr(), small_again.as_ptr());
    // Both blobs are slices of the same mapping of the arena, laid out as allocated.
    let distance = small_blob.as_ptr() as usize - first.as_ptr() as usize;
    assert_eq!(distance, 64 << 20);
    assert_eq!(
        (first[0], first[12345], first[(64 << 20) - 1]),
        (0xab, 0xab, 0xab)
    );
    assert_eq!(&small_blob[..], &pattern(1024, 2)[..]);
}

#[test]
fn empty_blob_round_trips() {
    let server = TestServer::start();
    let client = server.client();
    let writer = client.create_blob(0).unwrap();
    assert_eq!(writer.size(), 0);
    let id = writer.seal().unwrap();
    assert_eq!(id, EMPTY_BLOB_ID);
    assert_eq!(client.put_bytes(&[]).unwrap(), EMPTY_BLOB_ID);

    let other = server.client();
    let blob = other.get_blob(EMPTY_BLOB_ID).unwrap();
    assert_eq!(blob.size(), 0);
    assert!(blob.is_empty());
    assert!(other.exists(EMPTY_BLOB_ID).unwrap());
    let meta = other.get_metadata(EMPTY_BLOB_ID).unwrap();
    assert_eq!(meta.typename(), Some("vineyard::Blob"));
    assert_eq!(meta.nbytes(), 0);
    assert_eq!(server.memory_usage(), 0);
}

#[test]
fn missing_blob_is_object_not_exists() {
    let server = TestServer::start();
    let client = server.client();
    let missing = ObjectID(0x8000_0000_0000_1234);
    match client.get_blob(missing) {
        Err(Error::ObjectNotExists { id }) => assert_eq!(id, missing),
        other => panic!("expected ObjectNotExists, got {other:?}"),
    }
    // A missing id among present ones fails the whole call and leaves nothing held.
    let present = client.put_bytes(b"present").unwrap();
    assert!(matches!(
        client.get_blobs(&[present, missing]),
        Err(Error::ObjectNotExists { id }) if id == missing
    ));
    assert!(!client.exists(missing).unwrap());
    client.delete(&[present], false, true).unwrap();
    assert_eq!(
        server.memory_usage(),
        0,
        "the failed get released what it held"
    );
}

#[test]
fn unsealed_blob_is_not_readable_by_others() {
    let server = TestServer::start();
    let writer_client = server.client();
    let reader_client = server.client();
    let mut writer = writer_client.create_blob(4096).unwrap();
    writer.fill(9);

    let error = reader_client.get_blob(writer.id()).unwrap_err();
    assert_eq!(error.code(), Code::ObjectNotSealed, "{error}");
    assert!(
        error.to_string().contains(&writer.id().to_string()),
        "{error}"
    );
    assert!(!reader_client.exists(writer.id()).unwrap());

    let id = writer.seal().unwrap();
    assert!(reader_client
        .get_blob(id)
        .unwrap()
        .iter()
        .all(|&byte| byte == 9));
}

#[test]
fn dropped_writer_gives_memory_back() {
    let server = TestServer::start();
    let client = server.client();
    let baseline = server.memory_usage();
    let mut writer = client.create_blob(1 << 20).unwrap();
    writer.fill(1);
    let id = writer.id();
    assert_eq!(server.memory_usage(), baseline + (1 << 20));
    drop(writer);
    assert_eq!(server.memory_usage(), baseline);
    assert!(matches!(
        client.get_blob(id),
        Err(Error::ObjectNotExists { .. })
    ));
}

#[test]
fn aborted_writer_gives_memory_back() {
    let server = TestServer::start();
    let client = server.client();
    let baseline = server.memory_usage();
    let writer = client.create_blob(3 << 20).unwrap();
    let id = writer.id();
    assert_eq!(server.memory_usage(), baseline + (3 << 20));
    writer.abort().unwrap();
    assert_eq!(server.memory_usage(), baseline);
    assert!(matches!(
        client.get_blob(id),
        Err(Error::ObjectNotExists { .. })
    ));
    // Sealing an aborted buffer is an error, not a resurrection.
    let mut raw = RawConnection::registered(server.socket());
    let reply = raw.request(&json!({"type": "seal_request", "object_id": id.as_u64()}));
    let (code, message) = expect_error(&reply);
    assert_eq!(code, Code::ObjectNotExists.as_i64(), "{message}");
}
