//! Saves that are partial, corrupted or from the future fail to load with an error naming
//! what is wrong, and the failed load leaves nothing in the instance.

use std::path::{Path, PathBuf};

use vineyard_core::ObjectID;
use vineyard_persist::{load, save, Error, ExportFormat, LoadOptions, SaveOptions};
use vineyard_test_harness::TestServer;

use crate::round_trip::batch;

/// A server with a saved table in a directory, each blob in a file of its own: (server,
/// object, directory, url).
fn saved_table() -> (TestServer, ObjectID, tempfile::TempDir, String) {
    saved_table_with(ExportFormat::None)
}

/// The same, saved with an export of `format`.
fn saved_table_with(format: ExportFormat) -> (TestServer, ObjectID, tempfile::TempDir, String) {
    let server = TestServer::start();
    let client = server.client();
    let table = vineyard_builders::put_record_batch(&client, &batch(20_000))
        .unwrap()
        .id()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let options = SaveOptions {
        export: format,
        ..SaveOptions::default()
    };
    save(&client, &[table], &url, &options).unwrap();
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
    manifest["version"] = 99.into();
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let error = load_fails(&server, &url);
    assert!(
        matches!(error, Error::ManifestVersion { found: 99, .. }),
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

#[test]
fn a_save_that_cannot_place_a_blob_names_it_and_leaves_no_staging_file() {
    let (server, table, dir, url) = saved_table();
    // A directory where the blob's file goes: its staging file cannot be renamed there.
    let blob = largest_blob(dir.path());
    std::fs::remove_file(&blob).unwrap();
    std::fs::create_dir_all(blob.join("in-the-way")).unwrap();
    let options = SaveOptions {
        export: ExportFormat::None,
        ..SaveOptions::default()
    };
    let error = save(&server.client(), &[table], &url, &options)
        .unwrap_err()
        .to_string();
    let name = blob.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        error.contains("writing") && error.contains(&name),
        "{error}"
    );
    let left: Vec<String> = std::fs::read_dir(dir.path().join("blobs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|file| file.contains(".saving-"))
        .collect();
    assert!(left.is_empty(), "staging files left: {left:?}");
}

/// The Arrow file of a table saved with one, which holds its blobs.
fn arrow_file(dir: &Path) -> PathBuf {
    let arrow = dir.join("arrow");
    let file = std::fs::read_dir(&arrow).unwrap().next().unwrap().unwrap();
    file.path()
}

#[test]
fn blobs_held_by_an_arrow_file_fail_to_load_when_it_is_changed_cut_or_gone() {
    let (server, _, dir, url) = saved_table_with(ExportFormat::Arrow);
    let file = arrow_file(dir.path());
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let original = std::fs::read(&file).unwrap();
    // A byte in the middle of the body (a column's values).
    let mut changed = original.clone();
    changed[original.len() / 2] ^= 0x40;
    std::fs::write(&file, &changed).unwrap();
    let error = load_fails(&server, &url);
    assert!(matches!(error, Error::ChecksumMismatch { .. }), "{error}");
    assert!(error.to_string().contains(&name), "{error}");
    std::fs::write(&file, &original[..original.len() / 3]).unwrap();
    let error = load_fails(&server, &url);
    assert!(matches!(error, Error::ChecksumMismatch { .. }), "{error}");
    std::fs::remove_file(&file).unwrap();
    let error = load_fails(&server, &url);
    assert!(matches!(error, Error::MissingBlob { .. }), "{error}");
    assert!(error.to_string().contains(&name), "{error}");
}
