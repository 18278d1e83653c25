//! The table's side of the metadata index: local objects published there when created,
//! withdrawn when deleted or changed, and the memory of their deleted blobs kept until
//! readers that may have found them in the index have registered their holds.

use std::collections::BTreeSet;
use std::fs::File;

use serde_json::Value;

use super::ObjectTable;
use crate::id::{ObjectID, EMPTY_BLOB_ID};
use crate::meta_index::IndexedBlob;

/// The ids of the blobs in an expanded tree, the tree itself included (repeats possible).
pub fn collect_blob_ids(tree: &Value, found: &mut Vec<ObjectID>) {
    let Value::Object(tree) = tree else {
        return;
    };
    if let Some(id) = tree.get("id").and_then(Value::as_str) {
        if let Ok(id) = id.parse::<ObjectID>() {
            if id.is_blob() {
                found.push(id);
            }
        }
    }
    for member in tree.values() {
        collect_blob_ids(member, found);
    }
}

impl ObjectTable {
    /// The index file clients map, if the instance has one.
    pub fn index_file(&self) -> Option<&File> {
        self.index.as_ref().map(|index| index.file())
    }

    /// Writes a local object's expanded tree and its blobs' places into the index (if its
    /// members are all local and it fits).
    pub(super) fn publish(&mut self, id: ObjectID) {
        if self.index.is_none() {
            return;
        }
        let Some(tree) = self.get_tree(id).map(Value::Object) else {
            return;
        };
        let mut blob_ids = Vec::new();
        collect_blob_ids(&tree, &mut blob_ids);
        blob_ids.sort_unstable();
        blob_ids.dedup();
        let mut blobs = Vec::with_capacity(blob_ids.len());
        for &blob in &blob_ids {
            if blob == EMPTY_BLOB_ID {
                blobs.push(IndexedBlob {
                    id: blob.0,
                    offset: 0,
                    size: 0,
                });
                continue;
            }
            match self.blobs.get(&blob) {
                Some(entry) if entry.sealed => blobs.push(IndexedBlob {
                    id: blob.0,
                    offset: entry.offset,
                    size: entry.size,
                }),
                // A member on another instance: only the server can answer for it.
                _ => return self.withdraw_from_index(id),
            }
        }
        let text = serde_json::to_vec(&tree).expect("trees serialise");
        let index = self.index.as_mut().expect("checked");
        if index.publish(id.0, &text, &blobs) {
            for blob in blob_ids {
                if let Some(entry) = self.blobs.get_mut(&blob) {
                    entry.published = true;
                }
            }
        }
    }

    /// Publishes `ids` again, and every object that has one of them as a member (their
    /// expanded trees changed with them).
    pub(super) fn republish_with_users(&mut self, ids: &[ObjectID]) {
        let mut pending: Vec<ObjectID> = ids.to_vec();
        let mut seen = BTreeSet::new();
        while let Some(id) = pending.pop() {
            if !seen.insert(id) {
                continue;
            }
            if let Some(entry) = self.objects.get(&id) {
                pending.extend(entry.users.iter().copied());
            }
            self.publish(id);
        }
    }

    /// Takes `id` out of the index.
    pub(super) fn withdraw_from_index(&mut self, id: ObjectID) {
        if let Some(index) = self.index.as_mut() {
            index.withdraw(id.0);
        }
    }

    /// Deleted blobs that were indexed, each pinned (as if one more connection held it) since
    /// the object left the index. Unpin them with [`ObjectTable::readers_done`] once every
    /// other connection has handled what it had sent by the time they were taken.
    pub fn take_awaiting_readers(&mut self) -> Vec<ObjectID> {
        std::mem::take(&mut self.awaiting_readers)
    }

    /// Unpins blobs taken from [`ObjectTable::take_awaiting_readers`], freeing those nobody
    /// holds.
    pub fn readers_done(&mut self, ids: &[ObjectID]) {
        for &id in ids {
            self.drop_holder(id);
        }
    }
}
