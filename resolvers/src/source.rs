//! Where resolvers find the blobs a tree names: [`BlobSource`], implemented by the client
//! (which asks the server, or reads its index) and by [`FetchedBlobs`], blobs mapped already
//! (by the one `get_objects` round trip that fetched the tree).

use std::collections::HashMap;

use arrow::buffer::Buffer;
use vineyard_core::{Blob, Error, IpcClient, ObjectID, ObjectMeta, Result, EMPTY_BLOB_ID};

use crate::buffer::blob_buffer;

/// Gives resolvers the blobs of a tree, and the Arrow buffers over them.
pub trait BlobSource {
    /// The blobs `ids`, mapped for reading, in order; fails if any is missing.
    fn blobs(&self, ids: &[ObjectID]) -> Result<Vec<Blob>>;

    /// An Arrow buffer over `blob` (no copy); the buffer keeps the blob alive.
    fn buffer(&self, blob: Blob) -> Buffer {
        blob_buffer(blob)
    }
}

impl BlobSource for IpcClient {
    fn blobs(&self, ids: &[ObjectID]) -> Result<Vec<Blob>> {
        self.get_blobs(ids)
    }
}

/// Blobs mapped already, by id: resolving from them asks the server nothing.
#[derive(Debug, Default)]
pub struct FetchedBlobs {
    blobs: HashMap<ObjectID, Blob>,
}

impl FetchedBlobs {
    /// The blobs, by their ids.
    pub fn new(blobs: impl IntoIterator<Item = Blob>) -> FetchedBlobs {
        FetchedBlobs {
            blobs: blobs.into_iter().map(|blob| (blob.id(), blob)).collect(),
        }
    }

    /// The blob `id`, if it was fetched (the empty blob always is).
    pub fn get(&self, id: ObjectID) -> Option<Blob> {
        if id == EMPTY_BLOB_ID {
            return Some(Blob::empty());
        }
        self.blobs.get(&id).cloned()
    }
}

impl BlobSource for FetchedBlobs {
    fn blobs(&self, ids: &[ObjectID]) -> Result<Vec<Blob>> {
        ids.iter()
            .map(|&id| self.get(id).ok_or(Error::ObjectNotExists { id }))
            .collect()
    }
}

/// The ids of the blobs a tree (members expanded) names, in member order, appended to `ids`,
/// so that one `get_blobs` can fetch them all for a [`FetchedBlobs`].
pub fn blob_ids(meta: &ObjectMeta, ids: &mut Vec<ObjectID>) {
    for (_, member) in meta.members() {
        let member = ObjectMeta::from_map_ref(member);
        if member.is_blob() {
            ids.extend(member.id());
        } else {
            blob_ids(member, ids);
        }
    }
}
