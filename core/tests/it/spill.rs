//! Spilling: with `--spill_path`, a full store writes cold blobs out instead of refusing
//! puts, reads them back on `get`, never spills what a client holds or pinned, and cleans up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vineyard_core::{Error, IpcClient, ObjectID, ObjectMeta};

use vineyard_test_harness::TestServer;

const MIB: usize = 1 << 20;
const SIZE: u64 = 16 << 20;

fn spilling_server(dir: &Path) -> TestServer {
    let dir = dir.to_path_buf();
    TestServer::builder()
        .size(SIZE)
        .config(move |config| config.spill_path = Some(dir))
        .start()
}

/// A blob of `size` bytes whose every byte is `value`, as a `Tensor`-like object.
fn put_object(client: &IpcClient, value: u8, size: usize) -> ObjectID {
    let blob = client.put_bytes(&vec![value; size]).unwrap();
    let blob_meta = client.get_metadata(blob).unwrap();
    let mut meta = ObjectMeta::with_typename("test::Filled");
    meta.insert("value", value);
    meta.add_member("buffer_", blob_meta);
    client.create_metadata(&meta).unwrap().id().unwrap()
}

fn check_object(client: &IpcClient, id: ObjectID) {
    let (metas, blobs) = client.get_objects(&[id]).unwrap();
    let value = metas[0].get("value").and_then(|v| v.as_u64()).unwrap() as u8;
    assert_eq!(blobs.len(), 1);
    assert!(
        blobs[0].iter().all(|&byte| byte == value),
        "object {id} read back wrong"
    );
}

/// The blobs' files in the instance's spill directory (inside `dir`), not its owner file.
fn spill_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for instance in std::fs::read_dir(dir).unwrap() {
        let instance = instance.unwrap().path();
        if instance.is_dir() {
            for file in std::fs::read_dir(&instance).unwrap() {
                let file = file.unwrap().path();
                if !file.file_name().unwrap().to_string_lossy().starts_with('.') {
                    files.push(file);
                }
            }
        }
    }
    files
}

/// The blob member of an object made by `put_object`.
fn blob_of(client: &IpcClient, id: ObjectID) -> ObjectID {
    let meta = client.get_metadata(id).unwrap();
    meta.member("buffer_").unwrap().id().unwrap()
}

/// Makes `dir` look like the spill directory of an instance: an owner file, and a blob's file.
fn fake_instance_dir(dir: &Path) -> std::fs::File {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("o0000000000000001"), [7u8; 64]).unwrap();
    std::fs::File::create(dir.join(".owner")).unwrap()
}

fn lock(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` only reads the descriptor, which `file` keeps open for the call.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(locked, 0, "{}", std::io::Error::last_os_error());
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_full_store_spills_cold_blobs_and_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = spilling_server(dir.path());
    let client = server.client();
    // Three times the store.
    let ids: Vec<ObjectID> = (0..12)
        .map(|value| put_object(&client, value, 4 * MIB))
        .collect();
    let status = client.status().unwrap();
    assert!(status.memory_usage <= SIZE);
    assert!(status.spilled_bytes >= 32 * MIB as u64, "{status:?}");
    assert_eq!(
        status.spilled_bytes,
        spill_files(dir.path()).len() as u64 * 4 * MIB as u64
    );
    assert!(
        client.is_spilled(ids[0]).unwrap(),
        "the least recently used went first"
    );
    assert!(!client.is_spilled(ids[11]).unwrap(), "the newest stays");
    for &id in &ids {
        check_object(&client, id);
    }
    let status = client.status().unwrap();
    assert!(status.reloaded_total_bytes >= 32 * MIB as u64, "{status:?}");
    client.delete(&ids, false, true).unwrap();
    wait_until("every spill file is removed", || {
        spill_files(dir.path()).is_empty()
    });
    assert_eq!(client.status().unwrap().spilled_bytes, 0);
    assert_eq!(server.memory_usage(), 0);
    server.stop();
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the instance's spill directory goes when it stops"
    );
}

#[test]
fn held_and_pinned_blobs_stay_in_memory_until_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let server = spilling_server(dir.path());
    let client = server.client();
    let held = put_object(&client, 1, 4 * MIB);
    let pinned = put_object(&client, 2, 4 * MIB);
    let handles = client.get_objects(&[held]).unwrap();
    client.load(&[pinned], true).unwrap();
    client.evict(&[held, pinned]).unwrap();
    assert!(
        !client.is_spilled(held).unwrap(),
        "a held blob is not evicted"
    );
    assert!(
        !client.is_spilled(pinned).unwrap(),
        "a pinned blob is not evicted"
    );
    // Filling the store spills others, not these.
    let others: Vec<ObjectID> = (3..8)
        .map(|value| put_object(&client, value, 4 * MIB))
        .collect();
    assert!(!client.is_spilled(held).unwrap() && !client.is_spilled(pinned).unwrap());
    assert!(others.iter().any(|&id| client.is_spilled(id).unwrap()));
    drop(handles);
    client.unpin(&[pinned]).unwrap();
    client.flush().unwrap();
    client.evict(&[held, pinned]).unwrap();
    assert!(client.is_spilled(held).unwrap() && client.is_spilled(pinned).unwrap());
    // load brings them back, and pins.
    client.load(&[pinned], true).unwrap();
    assert!(!client.is_spilled(pinned).unwrap());
    client.evict(&[pinned]).unwrap();
    assert!(!client.is_spilled(pinned).unwrap());
    check_object(&client, held);
    check_object(&client, pinned);
}

#[test]
fn when_nothing_can_be_spilled_the_put_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let server = spilling_server(dir.path());
    let client = server.client();
    let ids: Vec<ObjectID> = (0..3)
        .map(|value| put_object(&client, value, 5 * MIB))
        .collect();
    let _held = client.get_objects(&ids).unwrap();
    match client.create_blob(4 * MIB) {
        Err(Error::SpillFailed {
            reason, requested, ..
        }) => {
            assert_eq!(requested, 4 * MIB as u64);
            assert!(reason.contains("held by a client"), "{reason}");
        }
        other => panic!("expected SpillFailed, got {other:?}"),
    }
    let error = client.create_blob(SIZE as usize + 1).unwrap_err();
    assert!(
        matches!(error, Error::NotEnoughMemory { .. }),
        "larger than the store: {error}"
    );
}

#[test]
fn a_spill_file_deleted_behind_the_servers_back_fails_the_get_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let server = spilling_server(dir.path());
    let client = server.client();
    let lost = put_object(&client, 7, 2 * MIB);
    let kept = put_object(&client, 8, 2 * MIB);
    client.evict(&[lost, kept]).unwrap();
    let files = spill_files(dir.path());
    assert_eq!(files.len(), 2);
    let lost_blob = client
        .get_metadata(lost)
        .unwrap()
        .member("buffer_")
        .unwrap()
        .id()
        .unwrap();
    std::fs::remove_file(
        files
            .iter()
            .find(|f| f.ends_with(lost_blob.to_string()))
            .unwrap(),
    )
    .unwrap();
    let error = client.get_objects(&[lost]).unwrap_err().to_string();
    assert!(
        error.contains(&lost_blob.to_string()) && error.contains("cannot be read back"),
        "{error}"
    );
    assert!(error.contains("missing"), "{error}");
    // The server keeps serving, and the memory taken for the failed read is back.
    check_object(&client, kept);
    assert_eq!(server.memory_usage(), 2 * MIB as u64);
    put_object(&client, 9, MIB);
    client.delete(&[lost], false, true).unwrap();
}

#[test]
fn evict_without_spill_path_says_how_to_turn_it_on() {
    let server = TestServer::start();
    let client = server.client();
    let id = put_object(&client, 1, 1024);
    let error = client.evict(&[id]).unwrap_err().to_string();
    assert!(error.contains("--spill_path"), "{error}");
    assert!(!client.is_spilled(id).unwrap());
    client.load(&[id], true).unwrap();
    client.unpin(&[id]).unwrap();
}

#[test]
fn a_spill_directory_that_cannot_be_made_fails_the_start() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut config = vineyard_core::ServerConfig::local(file.path().with_extension("sock"), SIZE);
    config.spill_path = Some(file.path().join("below-a-file"));
    config.reserve_memory = false;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = match runtime.block_on(vineyard_core::Server::bind(config)) {
        Ok(_) => panic!("a spill path below a file was accepted"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains("--spill_path") && error.contains("writable"),
        "{error}"
    );
}

#[test]
fn a_spill_file_changed_behind_the_servers_back_fails_the_get_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let server = spilling_server(dir.path());
    let client = server.client();
    let changed = put_object(&client, 7, 2 * MIB);
    let kept = put_object(&client, 8, 2 * MIB);
    client.evict(&[changed, kept]).unwrap();
    let blob = blob_of(&client, changed);
    let files = spill_files(dir.path());
    let file = files
        .iter()
        .find(|f| f.ends_with(blob.to_string()))
        .unwrap();
    // Same size, one byte different: only the checksum can tell.
    let mut bytes = std::fs::read(file).unwrap();
    bytes[MIB] ^= 0xff;
    std::fs::write(file, bytes).unwrap();
    let error = client.get_objects(&[changed]).unwrap_err().to_string();
    assert!(
        error.contains(&blob.to_string()) && error.contains("CRC-32C") && error.contains("changed"),
        "{error}"
    );
    // The server keeps serving, the memory taken for the failed read is back, the blob stays
    // spilled (and fails the same way again).
    check_object(&client, kept);
    assert_eq!(server.memory_usage(), 2 * MIB as u64);
    assert!(client.is_spilled(changed).unwrap());
    assert!(client.get_objects(&[changed]).is_err());
    client.delete(&[changed], false, true).unwrap();
}

#[test]
fn a_blob_spilled_and_read_back_again_and_again_reads_right_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = spilling_server(dir.path());
    let client = server.client();
    let id = put_object(&client, 5, 64 * 1024);
    for round in 0..300 {
        client.evict(&[id]).unwrap();
        assert!(client.is_spilled(id).unwrap(), "round {round}");
        check_object(&client, id);
        client.flush().unwrap();
        // Read back: its file is gone by the time the get returns.
        assert_eq!(
            spill_files(dir.path()),
            Vec::<PathBuf>::new(),
            "round {round}"
        );
    }
}

#[test]
fn an_instance_removes_the_spill_directories_of_instances_that_did_not_stop_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // Left by a killed instance: its owner file is there, nobody holds its lock.
    let abandoned = dir.path().join("vineyard-spill-1-4000001");
    drop(fake_instance_dir(&abandoned));
    // A running instance (this test holds its lock).
    let running = dir.path().join("vineyard-spill-2-4000002");
    let owner = fake_instance_dir(&running);
    lock(&owner);
    // Being set up (no owner file yet), and a directory that is not an instance's.
    let starting = dir.path().join("vineyard-spill-3-4000003");
    std::fs::create_dir(&starting).unwrap();
    let other = dir.path().join("not-vineyard");
    std::fs::create_dir(&other).unwrap();

    let first = spilling_server(dir.path());
    assert!(!abandoned.exists(), "an abandoned spill directory stays");
    assert!(running.join("o0000000000000001").exists() && starting.exists() && other.exists());
    // A second instance on the same directory leaves the first one's alone.
    let client = first.client();
    let id = put_object(&client, 3, MIB);
    client.evict(&[id]).unwrap();
    let second = spilling_server(dir.path());
    assert_eq!(
        spill_files(dir.path()).len(),
        2,
        "the first instance's file and the fake one"
    );
    check_object(&client, id);
    drop(second);
    drop(owner);
    // Once its lock goes, the next instance cleans the "running" one up too.
    let _third = spilling_server(dir.path());
    assert!(!running.exists());
}

#[test]
fn a_blob_of_several_pieces_is_read_back_whole_and_in_order() {
    // Its file is read back by several threads at once, a piece each, straight into the store.
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().to_path_buf();
    let server = TestServer::builder()
        .size(96 << 20)
        .config(move |config| config.spill_path = Some(dir_path))
        .start();
    let client = server.client();
    let size = 2 * vineyard_core::file_io::PIECE + 12_345;
    let data: Vec<u8> = (0..size)
        .map(|i| (i % 251) as u8 ^ (i >> 20) as u8)
        .collect();
    let blob = client.put_bytes(&data).unwrap();
    client.evict(&[blob]).unwrap();
    assert!(client.is_spilled(blob).unwrap());
    let (_, blobs) = client.get_objects(&[blob]).unwrap();
    assert!(
        blobs[0][..] == data[..],
        "the blob reads back byte for byte"
    );
    assert!(!client.is_spilled(blob).unwrap());
}
