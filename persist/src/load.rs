//! Loading: the manifest first (format and version checked), then every blob into a buffer
//! of the instance (in parallel ranges, checked against its CRC-32C), then the trees,
//! recreated bottom-up over the new blobs, then persistence and names. A load that fails
//! anywhere deletes everything it created: no half object stays, and the memory it took is
//! given back.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use object_store::ObjectStoreExt;
use serde_json::{Map, Value};
use vineyard_core::meta::BLOB_TYPENAME;
use vineyard_core::{BlobWriter, IpcClient, ObjectID, ObjectMeta, EMPTY_BLOB_ID};

use crate::error::{describe, Error, Result};
use crate::location::Location;
use crate::manifest::{Manifest, SavedBlob, MANIFEST_NAME};
use crate::progress::{Progress, ProgressCallback};
use crate::transfer::{self, DownloadError};

/// Blobs read at once (each in up to `transfer::PARALLEL` ranges).
const PARALLEL_BLOBS: usize = 2;

/// Fields of a saved tree the instance sets anew when the object is created again.
const ASSIGNED_FIELDS: &[&str] = &[
    "id",
    "signature",
    "instance_id",
    "__timestamp",
    "__name",
    "transient",
    "global",
];

/// How to load.
#[derive(Clone, Default)]
pub struct LoadOptions {
    /// Options of the store (S3: `endpoint`, `region`, `access_key_id`, ...).
    pub storage: BTreeMap<String, String>,
    /// A name for the loaded object (the save must hold one object); the saved names are
    /// given back otherwise.
    pub name: Option<String>,
    /// Told the bytes read of the bytes to read.
    pub progress: Option<ProgressCallback>,
    /// Draw a progress bar on a terminal's stderr once the load takes a while.
    pub bar: bool,
}

/// What a load created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The new ids of the saved objects, in the manifest's order.
    pub objects: Vec<ObjectID>,
    /// The names given.
    pub names: Vec<(String, ObjectID)>,
    /// Bytes of blobs read.
    pub bytes: u64,
}

/// Loads what was saved at `url` into the instance; blocks until done.
pub fn load(client: &IpcClient, url: &str, options: &LoadOptions) -> Result<Loaded> {
    crate::runtime::block_on(load_async(client, url, options))
}

/// [`load`], on the caller's runtime.
pub async fn load_async(client: &IpcClient, url: &str, options: &LoadOptions) -> Result<Loaded> {
    let location = Location::parse(url, &options.storage)?;
    let manifest = read_manifest(&location).await?;
    if options.name.is_some() && manifest.objects.len() != 1 {
        return Err(Error::Url {
            url: url.to_string(),
            reason: format!(
                "it holds {} objects, and `name` names one; load it without a name (the saved \
                 names come back)",
                manifest.objects.len()
            ),
        });
    }
    let progress = Progress::new("load", options.progress.clone(), options.bar);
    progress.set_total(manifest.blobs.values().map(|blob| blob.size).sum());
    let ticker = progress.ticker();
    let mut created = Created::new(client);
    let loaded = load_into(
        client,
        &location,
        &manifest,
        options,
        &progress,
        &mut created,
    )
    .await;
    progress.finish(ticker);
    match loaded {
        Ok(loaded) => Ok(loaded),
        Err(error) => {
            created.undo();
            Err(error)
        }
    }
}

/// Reads and checks the manifest at a location.
pub(crate) async fn read_manifest(location: &Location) -> Result<Manifest> {
    let path = location.path(MANIFEST_NAME);
    let got = match location.store.get(&path).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(Error::NoManifest {
                url: location.url.clone(),
                path: path.to_string(),
            })
        }
        Err(error) => return Err(storage_error(location, &path, &error)),
    };
    let bytes = got
        .bytes()
        .await
        .map_err(|error| storage_error(location, &path, &error))?;
    Manifest::parse(&location.url, &bytes)
}

fn storage_error(
    location: &Location,
    path: &object_store::path::Path,
    error: &object_store::Error,
) -> Error {
    Error::Storage {
        action: "reading",
        path: path.to_string(),
        url: location.url.clone(),
        reason: describe(error),
    }
}

/// Everything a load created, deleted again if it fails.
struct Created<'a> {
    client: &'a IpcClient,
    ids: Vec<ObjectID>,
}

impl<'a> Created<'a> {
    fn new(client: &'a IpcClient) -> Created<'a> {
        Created {
            client,
            ids: Vec::new(),
        }
    }

    fn undo(&mut self) {
        if !self.ids.is_empty() {
            // Users first: deleting an object takes blob members no one else uses with it.
            self.ids.reverse();
            if let Err(error) = self.client.delete(&self.ids, true, true) {
                tracing::warn!(%error, "cannot delete what a failed load created");
            }
        }
    }
}

async fn load_into(
    client: &IpcClient,
    location: &Location,
    manifest: &Manifest,
    options: &LoadOptions,
    progress: &Arc<Progress>,
    created: &mut Created<'_>,
) -> Result<Loaded> {
    // Buffers not sealed are given back when their writers drop, also when this fails.
    let mut writers: Vec<(ObjectID, &SavedBlob, BlobWriter)> =
        Vec::with_capacity(manifest.blobs.len());
    for (id, saved) in &manifest.blobs {
        let old: ObjectID = id.parse().map_err(|_| Error::BadManifest {
            url: location.url.clone(),
            reason: format!("`{id}` in `blobs` is not a blob id"),
        })?;
        writers.push((old, saved, client.create_blob(saved.size as usize)?));
    }
    let read: Vec<std::result::Result<u32, DownloadError>> = if location.local.is_some() {
        let reads = writers
            .iter_mut()
            .map(|(_, saved, writer)| (location.path(&saved.path), saved.offset, &mut writer[..]))
            .collect();
        transfer::read_files(location, reads, progress).await
    } else {
        futures::stream::iter(writers.iter_mut())
            .map(|(_, saved, writer)| async {
                let path = location.path(&saved.path);
                transfer::download(location, &path, saved.offset, &mut writer[..], progress).await
            })
            .buffered(PARALLEL_BLOBS)
            .collect()
            .await
    };
    for ((old, saved, _), outcome) in writers.iter().zip(read) {
        check_blob(location, *old, saved, outcome)?;
    }
    let mut blobs: HashMap<ObjectID, (ObjectID, u64)> = HashMap::new();
    for (old, saved, writer) in writers {
        let new = writer.seal()?;
        created.ids.push(new);
        blobs.insert(old, (new, saved.size));
    }
    let mut rebuilt: HashMap<ObjectID, ObjectMeta> = HashMap::new();
    let mut objects = Vec::with_capacity(manifest.objects.len());
    for saved in &manifest.objects {
        let meta = recreate(client, &saved.tree, &blobs, &mut rebuilt, created)?;
        objects.push(meta.id().expect("created objects have ids"));
    }
    let mut names = Vec::new();
    for (saved, &id) in manifest.objects.iter().zip(&objects) {
        let wanted: Vec<String> = match &options.name {
            Some(name) => vec![name.clone()],
            None => saved.names.clone(),
        };
        if id.is_blob() {
            continue;
        }
        if saved.persisted || !wanted.is_empty() {
            client.persist(id)?;
        }
        for name in wanted {
            client.put_name(id, &name)?;
            names.push((name, id));
        }
    }
    Ok(Loaded {
        objects,
        names,
        bytes: manifest.blobs.values().map(|blob| blob.size).sum(),
    })
}

/// Whether a blob was read whole and unchanged: its CRC-32C is the manifest's.
fn check_blob(
    location: &Location,
    old: ObjectID,
    saved: &SavedBlob,
    read: std::result::Result<u32, DownloadError>,
) -> Result<()> {
    let mismatch = |found: u32, size: u64| Error::ChecksumMismatch {
        url: location.url.clone(),
        blob: old,
        path: saved.path.clone(),
        expected: saved.crc32c,
        found,
        expected_size: saved.size,
        size,
    };
    match read {
        Ok(crc) if crc == saved.crc32c => Ok(()),
        Ok(crc) => Err(mismatch(crc, saved.size)),
        Err(DownloadError::Short(size)) => Err(mismatch(0, size)),
        Err(DownloadError::Missing) => Err(Error::MissingBlob {
            url: location.url.clone(),
            blob: old,
            path: saved.path.clone(),
        }),
        Err(DownloadError::Other(error)) => Err(error),
    }
}

/// Creates a saved tree again over the new blobs (members first; a member saved once is
/// created once); returns the new tree.
fn recreate(
    client: &IpcClient,
    tree: &Map<String, Value>,
    blobs: &HashMap<ObjectID, (ObjectID, u64)>,
    rebuilt: &mut HashMap<ObjectID, ObjectMeta>,
    created: &mut Created<'_>,
) -> Result<ObjectMeta> {
    let saved = ObjectMeta::from_json(Value::Object(tree.clone()))?;
    let old = saved.id();
    if saved.typename() == Some(BLOB_TYPENAME) {
        let old = old.unwrap_or(EMPTY_BLOB_ID);
        let (new, size) = match blobs.get(&old) {
            Some(&found) => found,
            None => (EMPTY_BLOB_ID, 0),
        };
        let mut meta = ObjectMeta::with_typename(BLOB_TYPENAME);
        meta.set_id(new);
        meta.set_instance_id(client.instance_id());
        meta.insert("length", size);
        meta.set_nbytes(size);
        return Ok(meta);
    }
    if let Some(done) = old.and_then(|old| rebuilt.get(&old)) {
        return Ok(done.clone());
    }
    let mut fresh = ObjectMeta::new();
    for (key, value) in tree {
        if ASSIGNED_FIELDS.contains(&key.as_str()) {
            continue;
        }
        match value {
            Value::Object(member) => {
                let member = recreate(client, member, blobs, rebuilt, created)?;
                fresh.add_member(key, member);
            }
            other => fresh.insert(key, other.clone()),
        }
    }
    let meta = client.create_metadata(&fresh)?;
    let id = meta.id().expect("created objects have ids");
    created.ids.push(id);
    if let Some(old) = old {
        rebuilt.insert(old, meta.clone());
    }
    Ok(meta)
}
