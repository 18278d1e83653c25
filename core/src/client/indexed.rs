//! `get` from the server's metadata index, without asking the server (see
//! [`crate::meta_index`]): holds go to the connection's ring.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::connection::Unread;
use super::tree_cache::{IndexedObject, TreeCache};
use super::{count_handles, IpcClient, MappedBlob, SharedObjects};
use crate::error::Result;
use crate::id::ObjectID;
use crate::meta::ObjectMeta;
use crate::meta_index::{IndexView, IndexedBlob};
use crate::protocol::Request;

impl IpcClient {
    /// The trees and blobs of `ids` read from the index, or `None` if any is not indexed or
    /// changed while being read (the caller then asks the server). The blobs are held on the
    /// server like those of a [`IpcClient::get_objects`] reply.
    pub(super) fn get_from_index(&self, ids: &[ObjectID]) -> Result<Option<SharedObjects>> {
        let Some(index) = &self.inner.index else {
            return Ok(None);
        };
        let Some(entries) = entries(index, &self.inner.trees, ids)? else {
            return Ok(None);
        };
        let (store_fd, _) = index.store();
        // Blobs are only read from a mapping an earlier reply made.
        let Some(mapping) = self.inner.mapped(store_fd) else {
            return Ok(None);
        };
        let blobs: BTreeMap<u64, IndexedBlob> = entries
            .iter()
            .flat_map(|entry| &entry.blobs)
            .map(|blob| (blob.id, *blob))
            .collect();
        if blobs.values().any(|blob| {
            blob.size > 0
                && mapping
                    .check(blob.offset as usize, blob.size as usize)
                    .is_err()
        }) {
            return Ok(None);
        }
        let mut connection = self.inner.connection()?;
        let fresh: Vec<ObjectID> = blobs
            .values()
            .filter(|blob| blob.size > 0 && !connection.holds.contains_key(&ObjectID(blob.id)))
            .map(|blob| ObjectID(blob.id))
            .collect();
        // Only a hold in the ring counts in time (the server takes rings, not sockets, before
        // it frees).
        if !connection.push_holds(&fresh)? {
            return Ok(None);
        }
        // Nothing was sent, which would fail if the server were gone: look for a hang-up.
        connection.check_alive()?;
        if !entries.iter().all(|entry| index.unchanged(entry.version)) {
            for id in fresh {
                connection.send_unawaited(&Request::Release { id }, Unread::Ignore)?;
            }
            return Ok(None);
        }
        let mapped: Vec<MappedBlob> = blobs
            .values()
            .map(|blob| MappedBlob {
                id: ObjectID(blob.id),
                place: (blob.size > 0).then(|| {
                    (
                        Arc::clone(&mapping),
                        blob.offset as usize,
                        blob.size as usize,
                    )
                }),
            })
            .collect();
        count_handles(&mut connection, &mapped);
        drop(connection);
        let handles = self.wrap(mapped).collect();
        Ok(Some((metas_of(&entries), handles)))
    }

    /// The trees of `ids` read from the index, or `None` if any is not indexed.
    pub(super) fn get_metadatas_from_index(
        &self,
        ids: &[ObjectID],
    ) -> Result<Option<Vec<Arc<ObjectMeta>>>> {
        let Some(index) = &self.inner.index else {
            return Ok(None);
        };
        let Some(entries) = entries(index, &self.inner.trees, ids)? else {
            return Ok(None);
        };
        self.inner.connection()?.check_alive()?;
        Ok(Some(metas_of(&entries)))
    }
}

/// The index entries of `ids` (objects and sealed blobs), parsed, or `None` if any is missing.
fn entries(
    index: &IndexView,
    trees: &TreeCache,
    ids: &[ObjectID],
) -> Result<Option<Vec<Arc<IndexedObject>>>> {
    let mut entries = Vec::with_capacity(ids.len());
    for id in ids {
        match trees.read(index, id.0)? {
            Some(entry) => entries.push(entry),
            None => return Ok(None),
        }
    }
    Ok(Some(entries))
}

/// The trees of index entries.
fn metas_of(entries: &[Arc<IndexedObject>]) -> Vec<Arc<ObjectMeta>> {
    entries
        .iter()
        .map(|entry| Arc::clone(&entry.meta))
        .collect()
}
