//! Saves and loads that work: into the same and another instance, through memory and files.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use vineyard_core::{IpcClient, ObjectID, ObjectMeta};
use vineyard_persist::{load, save, save_all, ExportFormat, LoadOptions, SaveOptions, PART};
use vineyard_test_harness::TestServer;

pub fn batch(rows: i64) -> RecordBatch {
    let numbers = Int64Array::from_iter_values(0..rows);
    let words = StringArray::from_iter_values((0..rows).map(|row| format!("row {row}")));
    RecordBatch::try_from_iter([("n", Arc::new(numbers) as _), ("w", Arc::new(words) as _)])
        .unwrap()
}

pub fn resolve_batch(client: &IpcClient, id: ObjectID) -> RecordBatch {
    let meta = client.get_metadata(id).unwrap();
    let (schema, batches) =
        vineyard_resolvers::to_record_batches(vineyard_resolvers::resolve(client, &meta).unwrap())
            .unwrap();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

#[test]
fn a_record_batch_and_a_blob_come_back_in_another_instance_with_their_names() {
    let source = TestServer::start();
    let client = source.client();
    let table = vineyard_builders::put_record_batch(&client, &batch(1000))
        .unwrap()
        .id()
        .unwrap();
    client.persist(table).unwrap();
    client.put_name(table, "numbers").unwrap();
    let blob = client.put_bytes(b"a blob on its own").unwrap();
    let url = "memory://round-trip";
    let saved = save(&client, &[table, blob], url, &SaveOptions::default()).unwrap();
    assert_eq!(saved.objects, vec![table, blob]);
    assert!(saved.blobs >= 3, "{saved:?}");
    assert_eq!(
        saved.exports.len(),
        1,
        "the batch gets an Arrow file: {saved:?}"
    );

    let target = TestServer::start();
    let other = target.client();
    let loaded = load(&other, url, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.objects.len(), 2);
    assert_eq!(
        loaded.names,
        vec![("numbers".to_string(), loaded.objects[0])]
    );
    assert_eq!(other.get_name("numbers", false).unwrap(), loaded.objects[0]);
    assert!(other.is_persisted(loaded.objects[0]).unwrap());
    assert_eq!(resolve_batch(&other, loaded.objects[0]), batch(1000));
    assert_eq!(
        &other.get_blob(loaded.objects[1]).unwrap()[..],
        b"a blob on its own"
    );

    // Loaded again beside itself, under a name of its own.
    let named = LoadOptions {
        name: Some("again".into()),
        ..LoadOptions::default()
    };
    let error = load(&other, url, &named).unwrap_err().to_string();
    assert!(error.contains("holds 2 objects"), "{error}");
    let one = "memory://one-object";
    save(&client, &[table], one, &SaveOptions::default()).unwrap();
    let again = load(&other, one, &named).unwrap();
    assert_ne!(again.objects[0], loaded.objects[0]);
    assert_eq!(other.get_name("again", false).unwrap(), again.objects[0]);
}

#[test]
fn files_hold_blobs_a_manifest_and_an_arrow_file_other_tools_read() {
    let server = TestServer::start();
    let client = server.client();
    let table = vineyard_builders::put_record_batch(&client, &batch(50_000))
        .unwrap()
        .id()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/snap", dir.path().display());
    let heard = Arc::new(AtomicU64::new(0));
    let sink = Arc::clone(&heard);
    let options = SaveOptions {
        progress: Some(Arc::new(move |done, total| {
            assert!(done <= total);
            sink.store(done, Ordering::Relaxed);
            true
        })),
        ..SaveOptions::default()
    };
    let saved = save(&client, &[table], &url, &options).unwrap();
    assert_eq!(
        heard.load(Ordering::Relaxed),
        saved.bytes,
        "the last report is the total"
    );
    let snap = dir.path().join("snap");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(snap.join("manifest.json")).unwrap()).unwrap();
    // The Arrow file's buffers are the batch's blobs: none is written a second time.
    let blobs = manifest["blobs"].as_object().unwrap();
    assert_eq!(blobs.len(), saved.blobs);
    for (blob, place) in blobs {
        assert_eq!(place["path"], saved.exports[0].as_str(), "{blob}: {place}");
        assert!(place["offset"].as_u64().is_some(), "{blob}: {place}");
    }
    assert!(
        !snap.join("blobs").exists(),
        "no blob files beside the Arrow file"
    );
    let file = std::fs::File::open(snap.join(&saved.exports[0])).unwrap();
    let reader = arrow::ipc::reader::FileReader::try_new(file, None).unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(
        arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap(),
        batch(50_000)
    );
    let no_export = SaveOptions {
        export: ExportFormat::None,
        ..SaveOptions::default()
    };
    let url_plain = format!("file://{}/plain", dir.path().display());
    assert!(save(&client, &[table], &url_plain, &no_export)
        .unwrap()
        .exports
        .is_empty());
    client.delete(&[table], false, true).unwrap();
    let loaded = load(&client, &url, &LoadOptions::default()).unwrap();
    assert_eq!(resolve_batch(&client, loaded.objects[0]), batch(50_000));
}

#[test]
fn save_all_and_a_restore_rebuild_an_instance() {
    let server = TestServer::start();
    let client = server.client();
    let mut ids = Vec::new();
    for part in 0..3 {
        let blob = client.put_bytes(&vec![part as u8; 1 << 16]).unwrap();
        let mut meta = ObjectMeta::with_typename("test::Part");
        meta.insert("part", part);
        meta.add_member("buffer_", client.get_metadata(blob).unwrap());
        let part_meta = client.create_metadata(&meta).unwrap();
        ids.push(part_meta.id().unwrap());
    }
    // A parent whose members are the parts: save_all saves it (with them) once.
    let mut parent = ObjectMeta::with_typename("test::Parts");
    for (index, id) in ids.iter().enumerate() {
        parent.add_member(&format!("part_{index}"), client.get_metadata(*id).unwrap());
    }
    let parent = client.create_metadata(&parent).unwrap().id().unwrap();
    client.persist(parent).unwrap();
    client.put_name(parent, "all-parts").unwrap();
    let url = "memory://save-all";
    let saved = save_all(&client, url, &SaveOptions::default()).unwrap();
    assert_eq!(saved.objects, vec![parent]);

    let restored = TestServer::start();
    let count = vineyard_core::server::Restorer::restore(
        &vineyard_persist::SnapshotRestorer,
        restored.socket(),
        url,
    )
    .unwrap();
    assert_eq!(count, 1);
    let other = restored.client();
    let id = other.get_name("all-parts", false).unwrap();
    let (metas, blobs) = other.get_objects(&[id]).unwrap();
    assert_eq!(blobs.len(), 3);
    for part in 0..3 {
        let member = metas[0].member(&format!("part_{part}")).unwrap();
        assert_eq!(member.get("part").and_then(|v| v.as_u64()), Some(part));
        let blob = member.member("buffer_").unwrap().id().unwrap();
        let found = blobs.iter().find(|b| b.id() == blob).unwrap();
        assert!(found.iter().all(|&byte| byte == part as u8));
    }
}

#[test]
fn export_parquet_writes_a_parquet_file_other_tools_read() {
    let server = TestServer::start();
    let client = server.client();
    let table = vineyard_builders::put_record_batch(&client, &batch(20_000))
        .unwrap()
        .id()
        .unwrap();
    let blob = client.put_bytes(b"not arrow-shaped").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/snap", dir.path().display());
    let options = SaveOptions {
        export: ExportFormat::Parquet,
        ..SaveOptions::default()
    };
    let saved = save(&client, &[table, blob], &url, &options).unwrap();
    assert_eq!(
        saved.exports,
        vec![format!("parquet/{table}.parquet")],
        "one file, for the table only"
    );
    let file = std::fs::File::open(dir.path().join("snap").join(&saved.exports[0])).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(
        arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap(),
        batch(20_000)
    );
    // The manifest names the file and its format; the save loads as usual.
    let manifest = std::fs::read_to_string(dir.path().join("snap/manifest.json")).unwrap();
    assert!(manifest.contains("\"parquet\""), "{manifest}");
    let loaded = load(&client, &url, &LoadOptions::default()).unwrap();
    assert_eq!(resolve_batch(&client, loaded.objects[0]), batch(20_000));
}

/// A blob and an Arrow file larger than a part travel in several parts (a multipart upload,
/// an Arrow file sent as it is encoded, pieces read back by several threads) and come back
/// whole, from local files and from memory.
#[test]
fn blobs_and_arrow_files_larger_than_a_part_come_back_whole() {
    let server = TestServer::builder().size(320 << 20).start();
    let client = server.client();
    let bytes: Vec<u8> = (0..2 * PART + 12_345)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let blob = client.put_bytes(&bytes).unwrap();
    let rows = 1_500_000;
    let table = vineyard_builders::put_record_batch(&client, &batch(rows))
        .unwrap()
        .id()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file_url = format!("file://{}/large", dir.path().display());
    for url in [file_url.as_str(), "memory://large"] {
        let saved = save(&client, &[table, blob], url, &SaveOptions::default()).unwrap();
        assert_eq!(saved.exports.len(), 1, "{url}: {saved:?}");
        let loaded = load(&client, url, &LoadOptions::default()).unwrap();
        assert_eq!(
            resolve_batch(&client, loaded.objects[0]),
            batch(rows),
            "{url}"
        );
        assert!(
            client.get_blob(loaded.objects[1]).unwrap()[..] == bytes[..],
            "{url}: the blob's bytes come back"
        );
        client.delete(&loaded.objects, false, true).unwrap();
    }
    let arrow_file = dir
        .path()
        .join("large")
        .join(format!("arrow/{table}.arrow"));
    let size = std::fs::metadata(&arrow_file).unwrap().len();
    assert!(
        size > PART as u64,
        "the Arrow file spans parts: {size} bytes"
    );
    let reader =
        arrow::ipc::reader::FileReader::try_new(std::fs::File::open(&arrow_file).unwrap(), None)
            .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(
        arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap(),
        batch(rows)
    );
}

#[test]
fn a_table_of_more_blobs_than_files_open_at_once_comes_back_from_a_directory() {
    // Its blobs' files are written and read in groups: every group's checksums and bytes
    // must land on the right blobs.
    let columns = 3 * vineyard_persist::FILES_AT_ONCE + 1;
    let arrays: Vec<(String, arrow::array::ArrayRef)> = (0..columns as i64)
        .map(|column| {
            let values = Int64Array::from_iter_values((0..50).map(|row| row * 1000 + column));
            (format!("c{column}"), Arc::new(values) as _)
        })
        .collect();
    let wide = RecordBatch::try_from_iter(arrays).unwrap();
    let server = TestServer::start();
    let client = server.client();
    let id = vineyard_builders::put_record_batch(&client, &wide)
        .unwrap()
        .id()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/wide", dir.path().display());
    let options = SaveOptions {
        export: ExportFormat::None,
        ..SaveOptions::default()
    };
    let saved = save(&client, &[id], &url, &options).unwrap();
    assert!(saved.blobs >= columns, "{saved:?}");
    let loaded = load(&client, &url, &LoadOptions::default()).unwrap();
    assert_eq!(resolve_batch(&client, loaded.objects[0]), wide);
}

#[test]
fn a_table_saved_with_its_own_batch_counts_each_blob_once_in_the_progress() {
    // Both are Arrow-shaped, so both get an Arrow file, and both files hold the batch's
    // blobs: each blob is saved, and counted, once.
    let server = TestServer::start();
    let client = server.client();
    let rows = batch(20_000);
    let table =
        vineyard_builders::put_table(&client, &rows.schema(), std::slice::from_ref(&rows)).unwrap();
    let member = table
        .as_map()
        .values()
        .find_map(|value| {
            let meta = ObjectMeta::from_json(value.clone()).ok()?;
            (meta.typename() == Some("vineyard::RecordBatch")).then(|| meta.id())?
        })
        .expect("the table has its batch as a member");
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    let options = SaveOptions {
        progress: Some(Arc::new(move |done, total| {
            sink.lock().unwrap().push((done, total));
            true
        })),
        ..SaveOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/both", dir.path().display());
    let saved = save(&client, &[table.id().unwrap(), member], &url, &options).unwrap();
    assert_eq!(saved.exports.len(), 2, "{saved:?}");
    let heard = heard.lock().unwrap();
    assert!(
        heard.iter().all(|&(done, total)| done <= total),
        "{heard:?}"
    );
    assert_eq!(heard.last(), Some(&(saved.bytes, saved.bytes)));
    let loaded = load(&client, &url, &LoadOptions::default()).unwrap();
    assert_eq!(resolve_batch(&client, loaded.objects[1]), rows);
}
