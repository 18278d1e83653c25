//! `get` from the metadata index: no round trip, the same trees, and memory that a reader
//! found there is not reused under it, whoever deletes the object and whenever.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use vineyard_core::{Error, IpcClient, ObjectID, ObjectMeta};

use crate::blobs::pattern;
use crate::raw_frames::RawConnection;
use vineyard_test_harness::TestServer;

const SIZE: usize = 1 << 20;

/// An object with one blob member of `bytes`; returns its id and the blob's.
fn put_object(client: &IpcClient, bytes: &[u8]) -> (ObjectID, ObjectID) {
    let blob = client.put_bytes(bytes).unwrap();
    let mut meta = ObjectMeta::with_typename("test::Indexed");
    meta.insert("size_", bytes.len() as u64);
    meta.add_member_id("buffer_", blob);
    let meta = client.create_metadata(&meta).unwrap();
    (meta.id().unwrap(), blob)
}

/// What `call` returns when run while the server's table is locked, which stops the server
/// from answering anything; `None` if it did not return within 5 s (it asked the server).
fn with_server_stopped<T: Send + 'static>(
    server: &TestServer,
    call: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let table = server.shared().table();
    let (sender, received) = std::sync::mpsc::channel();
    let calling = std::thread::spawn(move || sender.send(call()));
    let returned = received.recv_timeout(Duration::from_secs(5)).ok();
    drop(table);
    calling.join().unwrap().ok();
    returned
}

/// The tree of `id` as the server answers `get_data_request` (the typed client would read
/// the index).
fn tree_from_server(server: &TestServer, id: ObjectID) -> ObjectMeta {
    let mut raw = RawConnection::registered(server.socket());
    let reply = raw.request(&json!({"type": "get_data_request", "id": [id.0]}));
    ObjectMeta::from_json(reply["content"][id.to_string()].clone()).unwrap()
}

/// A client that has mapped the store already (the index only serves mapped stores).
fn mapped_reader(server: &TestServer) -> IpcClient {
    let reader = server.client();
    let writer = server.client();
    let (warm_up, _) = put_object(&writer, b"warm up");
    drop(reader.get_objects(&[warm_up]).unwrap());
    reader
}

#[test]
fn an_indexed_object_is_read_without_the_server() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let bytes = pattern(SIZE, 7);
    let (id, blob) = put_object(&writer, &bytes);
    let from_server = tree_from_server(&server, id);

    let getter = reader.clone();
    let (metas, blobs) = with_server_stopped(&server, move || getter.get_objects(&[id]))
        .expect("the get waited for the server")
        .unwrap();
    assert_eq!(metas, vec![from_server]);
    assert_eq!(reader.get_metadatas(&[id]).unwrap(), metas);

    // A blob on its own too, and the tree of a blob id is the server's.
    let getter = reader.clone();
    let alone = with_server_stopped(&server, move || getter.get_blob(blob))
        .expect("the blob get waited for the server")
        .unwrap();
    assert_eq!(&alone[..], &bytes[..]);
    assert_eq!(
        reader.get_metadatas(&[blob]).unwrap(),
        vec![tree_from_server(&server, blob)]
    );
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].id(), blob);
    assert_eq!(&blobs[0][..], &bytes[..]);
}

/// A tree shaped like a table of 64 record batches of 4 columns, each column over a blob of
/// its own (the tree of a 1 GiB table in 16 MiB batches).
fn put_wide_table(client: &IpcClient) -> ObjectID {
    let mut table = ObjectMeta::with_typename("test::Table");
    for batch_index in 0..64 {
        let mut batch = ObjectMeta::with_typename("test::RecordBatch");
        for column_index in 0..4 {
            let (column, _) =
                put_object(client, format!("{batch_index}/{column_index}").as_bytes());
            batch.add_member_id(&format!("column_{column_index}_"), column);
        }
        let batch = client.create_metadata(&batch).unwrap().id().unwrap();
        table.add_member_id(&format!("batch_{batch_index}_"), batch);
    }
    client.create_metadata(&table).unwrap().id().unwrap()
}

#[test]
fn the_tree_of_a_table_of_many_batches_is_read_without_the_server() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let id = put_wide_table(&writer);
    let from_server = tree_from_server(&server, id);
    let text_len = serde_json::to_string(&from_server).unwrap().len();
    assert!(
        text_len > 64 << 10,
        "a tree of {text_len} bytes is not a large one"
    );

    let getter = reader.clone();
    let (metas, blobs) = with_server_stopped(&server, move || getter.get_objects(&[id]))
        .expect("the get of a large tree waited for the server")
        .unwrap();
    assert_eq!(metas, vec![from_server]);
    assert_eq!(blobs.len(), 64 * 4);
}

#[test]
fn a_large_tree_read_from_the_index_is_parsed_once() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let id = put_wide_table(&writer);
    let (first, _) = reader.get_objects_shared(&[id]).unwrap();
    let (again, blobs) = reader.get_objects_shared(&[id]).unwrap();
    assert!(
        Arc::ptr_eq(&first[0], &again[0]),
        "the tree was parsed again"
    );
    assert_eq!(blobs.len(), 64 * 4);
    let metas = reader.get_metadatas_shared(&[id]).unwrap();
    assert!(Arc::ptr_eq(&first[0], &metas[0]));
    assert_eq!(*metas[0], tree_from_server(&server, id));
    // A change to the tree is a new entry: read and parsed again.
    writer.persist(id).unwrap();
    let (persisted, _) = reader.get_objects_shared(&[id]).unwrap();
    assert!(!Arc::ptr_eq(&first[0], &persisted[0]));
    assert!(first[0].is_transient() && !persisted[0].is_transient());
}

#[test]
fn a_deleted_object_leaves_the_index() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let (id, _) = put_object(&writer, b"short-lived");
    drop(reader.get_objects(&[id]).unwrap());
    writer.delete(&[id], false, true).unwrap();
    assert!(matches!(
        reader.get_objects(&[id]),
        Err(Error::ObjectNotExists { .. })
    ));
    let blob = writer.put_bytes(b"a blob alone").unwrap();
    drop(reader.get_blob(blob).unwrap());
    writer.delete(&[blob], false, true).unwrap();
    assert!(matches!(
        reader.get_blob(blob),
        Err(Error::ObjectNotExists { .. })
    ));
}

#[test]
fn changes_to_a_tree_reach_the_index() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let (member, _) = put_object(&writer, b"member");
    let mut outer = ObjectMeta::with_typename("test::Outer");
    outer.add_member_id("inner", member);
    let outer = writer.create_metadata(&outer).unwrap().id().unwrap();
    let (metas, _) = reader.get_objects(&[outer]).unwrap();
    assert!(metas[0].member("inner").unwrap().is_transient());

    // Persisting the member changes the outer object's expanded tree too.
    writer.persist(member).unwrap();
    writer.put_name(member, "the-member").unwrap();
    let (metas, _) = reader.get_objects(&[outer]).unwrap();
    let inner = metas[0].member("inner").unwrap();
    assert!(!inner.is_transient());
    assert_eq!(inner.get("__name"), Some(&json!("the-member")));
    assert_eq!(metas[0], tree_from_server(&server, outer));
}

#[test]
fn memory_read_from_the_index_outlives_the_delete() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let baseline = server.memory_usage();
    let bytes = pattern(SIZE, 11);
    let (id, _) = put_object(&writer, &bytes);
    let (_, blobs) = reader.get_objects(&[id]).unwrap();

    writer.delete(&[id], false, true).unwrap();
    let other = writer.put_bytes(&pattern(SIZE, 200)).unwrap();
    assert_eq!(
        &blobs[0][..],
        &bytes[..],
        "the view shows another blob's bytes"
    );
    writer.delete(&[other], false, true).unwrap();
    server.wait_for_memory_usage(baseline + SIZE as u64);
    drop(blobs);
    server.wait_for_memory_usage(baseline);
}

#[test]
fn gets_and_drops_from_the_index_do_not_ask_the_server() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let baseline = server.memory_usage();
    let bytes = pattern(SIZE, 13);
    let (id, _) = put_object(&writer, &bytes);

    // More cycles than the replies a client leaves unread: a release sent on the socket
    // would wait for the stopped server.
    let getter = reader.clone();
    let cycles = with_server_stopped(&server, move || {
        for _ in 0..200 {
            let (_, blobs) = getter.get_objects(&[id]).unwrap();
            assert_eq!(blobs[0][..64], bytes[..64]);
        }
        200
    });
    assert_eq!(cycles, Some(200), "a get or drop waited for the server");

    // Every hold was released: the delete frees the memory at once.
    writer.delete(&[id], false, true).unwrap();
    server.wait_for_memory_usage(baseline);
}

#[test]
fn a_table_of_many_batches_is_got_and_dropped_again_and_again_without_the_server() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let id = put_wide_table(&writer);
    // 15 cycles of 256 holds and 256 releases: 7,680 entries in the ring.
    let cycles = 15;
    let getter = reader.clone();
    let done = with_server_stopped(&server, move || {
        for _ in 0..cycles {
            let (_, blobs) = getter.get_objects_shared(&[id]).unwrap();
            assert_eq!(blobs.len(), 64 * 4);
        }
        cycles
    });
    assert_eq!(done, Some(cycles), "a get or drop waited for the server");
}

/// A reader that gets and drops a table of 256 blobs over and over, with no other request,
/// writes 512 entries to its hold ring per cycle: it asks the server to take the ring as it
/// fills, so its gets keep coming from the index (the same parsed tree each time) instead of
/// falling back to a round trip that sends and parses the whole tree again.
#[test]
fn gets_from_the_index_go_on_past_a_hold_ring_of_entries() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let id = put_wide_table(&writer);
    let (first, _) = reader.get_objects_shared(&[id]).unwrap();
    // 40 cycles: 20,480 entries, two and a half rings' worth.
    for cycle in 0..40 {
        let (trees, blobs) = reader.get_objects_shared(&[id]).unwrap();
        assert_eq!(blobs.len(), 64 * 4);
        assert!(
            Arc::ptr_eq(&trees[0], &first[0]),
            "get {cycle} asked the server (its tree was sent and parsed again)"
        );
    }
}

#[test]
fn a_get_from_the_index_of_a_dead_server_fails() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let (id, _) = put_object(&writer, b"outlives its server");
    let (never_read, _) = put_object(&writer, b"never read");
    let (_, held) = reader.get_objects(&[id]).unwrap();
    server.crash();
    std::thread::sleep(Duration::from_millis(50));
    // The blob of `id` is held already, so that get sends nothing: it must still notice;
    // the other get sends a hold, which fails.
    for outcome in [
        reader.get_objects(&[id]).map(drop),
        reader.get_metadatas(&[id]).map(drop),
        reader.get_objects(&[never_read]).map(drop),
    ] {
        assert!(
            matches!(outcome, Err(Error::ConnectionLost { .. })),
            "{outcome:?}"
        );
    }
    assert_eq!(
        &held[0][..],
        b"outlives its server",
        "mapped views stay readable"
    );
}

/// Readers get the newest object from the index while a writer keeps deleting and putting
/// objects in a store so small that memory is reused at once: every view a reader got must
/// keep the bytes of its own object for as long as the reader keeps it.
#[test]
fn views_from_the_index_survive_a_writer_reusing_memory() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    const BLOB: usize = 256 << 10;
    let server = TestServer::builder().size(4 << 20).start();
    let writer = server.client();
    let newest = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let reader = mapped_reader(&server);
            let (newest, stop) = (Arc::clone(&newest), Arc::clone(&stop));
            std::thread::spawn(move || {
                let (mut checked, mut kept) = (0, Vec::new());
                while !stop.load(Ordering::SeqCst) {
                    let id = ObjectID(newest.load(Ordering::SeqCst));
                    let Ok((metas, blobs)) = reader.get_objects(&[id]) else {
                        continue; // deleted meanwhile
                    };
                    let seed = metas[0].get("seed").and_then(|seed| seed.as_u64()).unwrap();
                    kept.push((seed as u8, blobs));
                    // Keep a few views a while, so that deletes happen under them.
                    if kept.len() > 3 {
                        let (seed, blobs) = kept.remove(0);
                        assert!(blobs[0].iter().all(|&byte| byte == seed), "bytes changed");
                        checked += 1;
                    }
                }
                checked
            })
        })
        .collect();
    let mut previous = None;
    for round in 0..400u64 {
        let seed = (round % 250) as u8 + 1;
        let blob = writer.put_bytes(&vec![seed; BLOB]).unwrap();
        let mut meta = ObjectMeta::with_typename("test::Churn");
        meta.insert("seed", seed as u64);
        meta.add_member_id("buffer_", blob);
        let id = writer.create_metadata(&meta).unwrap().id().unwrap();
        newest.store(id.0, Ordering::SeqCst);
        if let Some(previous) = previous.replace(id) {
            writer.delete(&[previous], false, true).unwrap();
        }
    }
    stop.store(true, Ordering::SeqCst);
    let checked: usize = readers
        .into_iter()
        .map(|reader| reader.join().unwrap())
        .sum();
    assert!(checked > 0, "no view was checked");
}

#[test]
fn a_reader_with_a_full_hold_ring_asks_the_server_and_goes_on() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let baseline = server.memory_usage();
    let count = vineyard_core::meta_index::RING_LEN + 100;
    // Put without waiting for each reply: thousands of objects in little time.
    let ids: Vec<ObjectID> = (0..count)
        .map(|index| {
            let blob = writer
                .put_blob_unawaited(&(index as u64).to_le_bytes())
                .unwrap();
            let mut meta = ObjectMeta::with_typename("test::Indexed");
            meta.add_member_id("buffer_", blob);
            writer
                .create_metadata_unawaited(&meta)
                .unwrap()
                .id()
                .unwrap()
        })
        .collect();
    writer.flush().unwrap();
    // Every view is kept: no release empties the ring meanwhile.
    let kept: Vec<_> = ids
        .iter()
        .map(|&id| reader.get_objects(&[id]).unwrap().1)
        .collect();
    for (index, blobs) in kept.iter().enumerate() {
        assert_eq!(&blobs[0][..], &(index as u64).to_le_bytes());
    }
    writer.delete(&ids, false, true).unwrap();
    assert!(server.memory_usage() > baseline, "views still held");
    drop(kept);
    server.wait_for_memory_usage(baseline);
}

/// The server holds the table while a reader drops a view (its release stays unread) and gets
/// the object again (a new hold in the ring), then a writer deletes it: whichever of the
/// release and the delete the server handles first, the second view keeps its memory.
#[test]
fn a_hold_written_while_its_release_is_on_the_way_still_counts() {
    let server = TestServer::start();
    let writer = server.client();
    let reader = mapped_reader(&server);
    let baseline = server.memory_usage();
    let bytes = pattern(SIZE, 41);
    let (id, _) = put_object(&writer, &bytes);
    let table = server.shared().table();
    drop(reader.get_objects(&[id]).unwrap());
    let (_, kept) = reader.get_objects(&[id]).unwrap();
    let deleting = std::thread::spawn(move || {
        writer.delete(&[id], false, true).unwrap();
        writer
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(table);
    let writer = deleting.join().unwrap();
    let other = writer.put_bytes(&pattern(SIZE, 43)).unwrap();
    assert_eq!(
        &kept[0][..],
        &bytes[..],
        "the view shows another blob's bytes"
    );
    writer.delete(&[other], false, true).unwrap();
    drop(kept);
    server.wait_for_memory_usage(baseline);
}
