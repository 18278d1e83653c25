//! Saving: objects' trees, their blobs (mapped from the shared memory, not copied), Arrow
//! files of Arrow-shaped objects, and the manifest last.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use serde_json::Value;
use vineyard_core::{Blob, IpcClient, ObjectID, ObjectMeta, EMPTY_BLOB_ID};

use crate::error::{describe, Error, Result};
use crate::location::Location;
use crate::manifest::{Manifest, SavedBlob, SavedObject, MANIFEST_NAME};
use crate::progress::{Progress, ProgressCallback};
use crate::transfer;

/// Blobs written at once (each in up to `transfer::PARALLEL` parts).
const PARALLEL_BLOBS: usize = 2;

/// Which files other tools can read to write beside an Arrow-shaped object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExportFormat {
    /// None.
    None,
    /// An Arrow IPC file (`arrow/<id>.arrow`) for tables, record batches and arrays.
    #[default]
    Arrow,
    /// A Parquet file (`parquet/<id>.parquet`, zstd-compressed) for the same objects.
    Parquet,
}

/// How to save.
#[derive(Clone, Default)]
pub struct SaveOptions {
    /// Options of the store (S3: `endpoint`, `region`, `access_key_id`, ...).
    pub storage: BTreeMap<String, String>,
    /// Files for other tools beside Arrow-shaped objects.
    pub export: ExportFormat,
    /// Told the bytes written of the bytes to write.
    pub progress: Option<ProgressCallback>,
    /// Draw a progress bar on a terminal's stderr once the save takes a while.
    pub bar: bool,
}

/// What a save wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    /// The objects saved, as given (or, for `save_all`, every object not a member of another).
    pub objects: Vec<ObjectID>,
    /// Blobs written.
    pub blobs: usize,
    /// Bytes of blobs written.
    pub bytes: u64,
    /// Paths of the files written for other tools.
    pub exports: Vec<String>,
    /// Objects `save_all` left out: they belong to other instances.
    pub skipped: Vec<ObjectID>,
}

/// Saves the objects `ids` (with their members) to `url`; blocks until done.
pub fn save(
    client: &IpcClient,
    ids: &[ObjectID],
    url: &str,
    options: &SaveOptions,
) -> Result<Saved> {
    crate::runtime::block_on(save_async(client, ids, url, options))
}

/// Saves every local object of the instance (each object no other object has as a member,
/// with its members) and their names to `url`; blocks until done.
pub fn save_all(client: &IpcClient, url: &str, options: &SaveOptions) -> Result<Saved> {
    crate::runtime::block_on(save_all_async(client, url, options))
}

/// [`save`], on the caller's runtime.
pub async fn save_async(
    client: &IpcClient,
    ids: &[ObjectID],
    url: &str,
    options: &SaveOptions,
) -> Result<Saved> {
    let location = Location::parse(url, &options.storage)?;
    save_to(client, ids, Vec::new(), &location, options).await
}

/// [`save_all`], on the caller's runtime.
pub async fn save_all_async(client: &IpcClient, url: &str, options: &SaveOptions) -> Result<Saved> {
    let location = Location::parse(url, &options.storage)?;
    let trees = client.list_metadatas("*", false, usize::MAX)?;
    let mut members = BTreeSet::new();
    for meta in &trees {
        collect_members(meta.as_map(), &mut members);
    }
    let instance = client.instance_id();
    let (mut roots, mut skipped) = (Vec::new(), Vec::new());
    for meta in &trees {
        let Some(id) = meta.id() else { continue };
        if members.contains(&id) {
            continue;
        }
        if meta.is_global() || meta.instance_id().is_some_and(|owner| owner != instance) {
            skipped.push(id);
        } else {
            roots.push(id);
        }
    }
    save_to(client, &roots, skipped, &location, options).await
}

/// Ids of every member (at any depth) of a tree, not the tree's own.
fn collect_members(tree: &serde_json::Map<String, Value>, found: &mut BTreeSet<ObjectID>) {
    for value in tree.values() {
        if let Value::Object(member) = value {
            if let Ok(member_meta) = ObjectMeta::from_json(Value::Object(member.clone())) {
                if let Some(id) = member_meta.id() {
                    found.insert(id);
                }
            }
            collect_members(member, found);
        }
    }
}

/// A blob's bytes as `Bytes`, without copying: the handle keeps the mapping and the hold.
struct BlobBytes(Blob);

impl AsRef<[u8]> for BlobBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

async fn save_to(
    client: &IpcClient,
    ids: &[ObjectID],
    skipped: Vec<ObjectID>,
    location: &Location,
    options: &SaveOptions,
) -> Result<Saved> {
    let (metas, mapped) = client.get_objects(ids)?;
    let mut names: HashMap<ObjectID, Vec<String>> = HashMap::new();
    for (name, id) in client.list_names("*", false, usize::MAX)? {
        names.entry(id).or_default().push(name);
    }
    let mapped: HashMap<ObjectID, Blob> =
        mapped.into_iter().map(|blob| (blob.id(), blob)).collect();
    let mut manifest = Manifest::new(client.instance_id());
    let mut blobs: BTreeMap<ObjectID, Blob> = BTreeMap::new();
    for (&id, meta) in ids.iter().zip(&metas) {
        let mut found = Vec::new();
        vineyard_core::table::collect_blob_ids(&Value::Object(meta.as_map().clone()), &mut found);
        for blob in found.into_iter().filter(|&blob| blob != EMPTY_BLOB_ID) {
            let Some(handle) = mapped.get(&blob) else {
                return Err(Error::Unsavable {
                    id,
                    reason: format!(
                        "its blob {blob} lives on another instance; copy the object here \
                         first (client.migrate) or save it from its own instance"
                    ),
                });
            };
            blobs.insert(blob, handle.clone());
        }
        manifest.objects.push(SavedObject {
            id: id.to_string(),
            names: names.remove(&id).unwrap_or_default(),
            persisted: !meta.is_transient(),
            tree: meta.as_map().clone(),
        });
    }
    let progress = Progress::new("save", options.progress.clone(), options.bar);
    progress.set_total(blobs.values().map(|blob| blob.size() as u64).sum());
    let ticker = progress.ticker();
    let objects: Vec<(ObjectID, ObjectMeta)> = ids.iter().copied().zip(metas).collect();
    let result = async {
        // Exported files first: a blob an Arrow file holds as it is needs no file of its own.
        let (exports, held) = crate::export::write_files(
            client,
            location,
            &objects,
            options.export,
            &blobs,
            &progress,
        )
        .await?;
        let rest: BTreeMap<ObjectID, Blob> = blobs
            .into_iter()
            .filter(|(id, _)| !held.contains_key(id))
            .collect();
        let mut saved = write_blobs(location, rest, &progress).await?;
        saved.extend(held.into_iter().map(|(id, blob)| (id.to_string(), blob)));
        manifest.blobs = saved;
        manifest.exports = exports;
        manifest.created_ms = vineyard_core::id::now_millis();
        write_manifest(location, &manifest).await
    }
    .await;
    progress.finish(ticker);
    result?;
    Ok(Saved {
        objects: ids.to_vec(),
        blobs: manifest.blobs.len(),
        bytes: manifest.blobs.values().map(|blob| blob.size).sum(),
        exports: manifest
            .exports
            .iter()
            .map(|export| export.path.clone())
            .collect(),
        skipped,
    })
}

async fn write_blobs(
    location: &Location,
    blobs: BTreeMap<ObjectID, Blob>,
    progress: &Arc<Progress>,
) -> Result<BTreeMap<String, SavedBlob>> {
    let saved = |id: ObjectID, size: usize, crc32c: u32| {
        let name = format!("blobs/{id}");
        (
            id.to_string(),
            SavedBlob {
                size: size as u64,
                crc32c,
                path: name,
                offset: None,
            },
        )
    };
    if location.local.is_some() {
        let writes = blobs
            .iter()
            .map(|(id, blob)| (location.path(&format!("blobs/{id}")), &blob[..]))
            .collect();
        let written = transfer::write_files(location, writes, progress).await;
        return blobs
            .iter()
            .zip(written)
            .map(|((&id, blob), crc)| Ok(saved(id, blob.size(), crc?)))
            .collect();
    }
    futures::stream::iter(blobs)
        .map(|(id, blob)| async move {
            let path = location.path(&format!("blobs/{id}"));
            let size = blob.size();
            let bytes = Bytes::from_owner(BlobBytes(blob));
            let crc = transfer::upload(location, &path, bytes, progress).await?;
            Ok::<_, Error>(saved(id, size, crc))
        })
        .buffer_unordered(PARALLEL_BLOBS)
        .try_collect()
        .await
}

async fn write_manifest(location: &Location, manifest: &Manifest) -> Result<()> {
    let path = location.path(MANIFEST_NAME);
    location
        .store
        .put(&path, manifest.to_bytes().into())
        .await
        .map(drop)
        .map_err(|error| Error::Storage {
            action: "writing",
            path: path.to_string(),
            url: location.url.clone(),
            reason: describe(&error),
        })
}
