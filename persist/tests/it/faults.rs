//! Saves that are partial, corrupted or from the future fail to load with an error naming
//! what is wrong, and the failed load leaves nothing in the instance.

use std::path::{Path, PathBuf};

use vineyard_core::ObjectID;
use vineyard_persist::{load, save, Error, LoadOptions, SaveOptions};
use vineyard_test_harness::TestServer;

use crate::round_trip::batch;

/// A server with a saved table in a directory: (server, object, directory, url).
fn saved_table() -> (TestServer, ObjectID, tempfile::TempDir, String) {
    let server = TestServer::start();
    let client = server.client();
    let table = vineyard_builders::put_record_batch(&client, &batch(20_000))
        .unwrap()
        .id()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    save(&client, &[table], &url, &SaveOptions::default()).unwrap();
    (server, table, dir, url)
}

fn largest_blob(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join("blobs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .max_by_key(|path| std::fs::metadata(path).unwrap().len())
        .unwrap()
}

fn load_fails(server: &TestServer, url: &str) -> Error {
    let client = server.client();
    let before = server.memory_usage();
    let objects = client.list_metadatas("*", false, usize::MAX).unwrap().len();
    let error = load(&client, url, &LoadOptions::default()).unwrap_err();
    client.flush().unwrap();
    server.wait_for_memory_usage(before);
    assert_eq!(
        client.list_metadatas("*", false, usize::MAX).unwrap().len(),
        objects,
        "a failed load leaves no object: {error}"
    );
    error
}

#[test]
fn a_flipped_byte_is_a_checksum_mismatch_naming_the_blob() {
    let (server, _, dir, url) = saved_table();
    let blob = largest_blob(dir.path());
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&blob, bytes).unwrap();
    let error = load_fails(&server, &url);
    let name = blob.file_name().unwrap().to_str().unwrap();
    assert!(matches!(error, Error::ChecksumMismatch { .. }), "{error}");
    assert!(error.to_string().contains(name), "{error}");
}

#[test]
fn a_truncated_blob_is_a_mismatch_of_sizes() {
    let (server, _, dir, url) = saved_table();
    let blob = largest_blob(dir.path());
    let bytes = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &bytes[..bytes.len() - 1]).unwrap();
    let error = load_fails(&server, &url);
    assert!(matches!(error, Error::ChecksumMismatch { .. }), "{error}");
}

#[test]
fn a_missing_blob_is_named() {
    let (server, _, dir, url) = saved_table();
    let blob = largest_blob(dir.path());
    std::fs::remove_file(&blob).unwrap();
    let error = load_fails(&server, &url);
    assert!(matches!(error, Error::MissingBlob { .. }), "{error}");
    assert!(error.to_string().contains("incomplete"), "{error}");
}

#[test]
fn no_manifest_means_no_save() {
    let (server, _, dir, url) = saved_table();
    std::fs::remove_file(dir.path().join("manifest.json")).unwrap();
    let error = load_fails(&server, &url);
    assert!(matches!(error, Error::NoManifest { .. }), "{error}");
    assert!(error.to_string().contains("did not finish"), "{error}");
}

#[test]
fn an_unknown_manifest_version_is_refused_before_anything_is_read() {
    let (server, _, dir, url) = saved_table();
    let path = dir.path().join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["version"] = 2.into();
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let error = load_fails(&server, &url);
    assert!(
        matches!(error, Error::ManifestVersion { found: 2, .. }),
        "{error}"
    );
}

#[test]
fn a_blob_of_another_instance_cannot_be_saved_and_bad_urls_say_why() {
    let server = TestServer::start();
    let client = server.client();
    let error = save(
        &client,
        &[ObjectID(7)],
        "memory://x",
        &SaveOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("not found"), "{error}");
    let error = save(&client, &[], "gopher://x", &SaveOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown scheme"), "{error}");
}
