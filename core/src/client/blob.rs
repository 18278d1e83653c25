//! Blob handles: `BlobWriter` for a buffer being filled, `Blob` for sealed, shared bytes.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::mapping::Mapping;
use super::ClientInner;
use crate::error::Result;
use crate::id::{InstanceID, ObjectID, EMPTY_BLOB_ID};
use crate::protocol::reply::{DropBufferReply, SealReply};
use crate::protocol::Request;

/// Keeps blobs held on the server while any handle to them lives: one blob, or the blobs of
/// one read held together (see [`hold_together`]), released in one write.
struct Hold {
    ids: Vec<ObjectID>,
    client: Arc<ClientInner>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.ids.is_empty() {
            self.client.release_all(&self.ids);
        }
    }
}

/// Makes `blobs` (read by one client) share one hold: the server keeps all of them until the
/// last handle to any of them drops, and is then told in one write instead of one message per
/// blob. Blobs that are not the only handle on their hold keep their own.
pub fn hold_together(blobs: Vec<Blob>) -> Vec<Blob> {
    let mut ids = Vec::new();
    let mut client = None;
    let mut blobs = blobs;
    for blob in &mut blobs {
        let Some(hold) = blob._hold.take() else {
            continue;
        };
        let same_client = client
            .as_ref()
            .is_none_or(|shared: &Arc<ClientInner>| Arc::ptr_eq(shared, &hold.client));
        match Arc::try_unwrap(hold) {
            Ok(mut own) if same_client => {
                ids.append(&mut own.ids); // `own` drops empty: nothing released
                client.get_or_insert_with(|| Arc::clone(&own.client));
            }
            Ok(own) => blob._hold = Some(Arc::new(own)),
            Err(shared) => blob._hold = Some(shared),
        }
    }
    let Some(client) = client else {
        return blobs;
    };
    let group = Arc::new(Hold { ids, client });
    for blob in &mut blobs {
        if blob._hold.is_none() && blob.id != EMPTY_BLOB_ID {
            blob._hold = Some(Arc::clone(&group));
        }
    }
    blobs
}

/// A sealed blob: read-only bytes in the shared memory, shared by every process that maps it.
///
/// Dropping the last handle on a blob tells the server with one message on the client's
/// connection; its reply is not awaited but read with a later one, and every 64 unread
/// replies the drop waits for them: in async code, drop blobs inside `spawn_blocking` (or on
/// a runtime the server does not share).
#[derive(Clone)]
pub struct Blob {
    id: ObjectID,
    mapping: Option<Arc<Mapping>>,
    offset: usize,
    size: usize,
    _hold: Option<Arc<Hold>>,
}

impl Blob {
    pub(super) fn new(
        id: ObjectID,
        mapping: Option<Arc<Mapping>>,
        offset: usize,
        size: usize,
        client: Option<Arc<ClientInner>>,
    ) -> Blob {
        Blob {
            id,
            mapping,
            offset,
            size,
            _hold: client.map(|client| {
                Arc::new(Hold {
                    ids: vec![id],
                    client,
                })
            }),
        }
    }

    /// The empty blob.
    pub fn empty() -> Blob {
        Blob::new(EMPTY_BLOB_ID, None, 0, 0, None)
    }

    /// The blob's id.
    pub fn id(&self) -> ObjectID {
        self.id
    }

    /// Length in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Address of the first byte in this process (null for the empty blob).
    pub fn as_ptr(&self) -> *const u8 {
        self.deref().as_ptr()
    }

    /// The instance this blob was read from (`None` for the empty blob, which every
    /// instance has).
    pub fn instance_id(&self) -> Option<InstanceID> {
        self._hold.as_ref().map(|hold| hold.client.instance_id)
    }
}

impl Deref for Blob {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.mapping {
            Some(mapping) => mapping.slice(self.offset, self.size),
            None => &[],
        }
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({}, {} bytes)", self.id, self.size)
    }
}

/// A writable buffer in the shared memory. Fill it, then [`seal`](BlobWriter::seal) it;
/// dropping it unsealed gives the memory back.
pub struct BlobWriter {
    id: ObjectID,
    mapping: Option<Arc<Mapping>>,
    offset: usize,
    size: usize,
    client: Arc<ClientInner>,
    finished: bool,
}

impl BlobWriter {
    pub(super) fn new(
        id: ObjectID,
        mapping: Option<Arc<Mapping>>,
        offset: usize,
        size: usize,
        client: Arc<ClientInner>,
    ) -> BlobWriter {
        BlobWriter {
            id,
            mapping,
            offset,
            size,
            client,
            finished: false,
        }
    }

    /// The blob's id.
    pub fn id(&self) -> ObjectID {
        self.id
    }

    /// Length in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Address of the first writable byte in this process.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.deref_mut().as_mut_ptr()
    }

    /// The instance the blob is being created on.
    pub fn instance_id(&self) -> InstanceID {
        self.client.instance_id
    }

    /// Makes the blob immutable and readable by others; returns its id.
    pub fn seal(mut self) -> Result<ObjectID> {
        self.finished = true;
        if self.id != EMPTY_BLOB_ID {
            self.client
                .call::<SealReply>(&Request::Seal { id: self.id })?;
            self.client.created(self.id);
        }
        Ok(self.id)
    }

    /// Seals without waiting for the server's reply, saving a round trip when the next
    /// request on this client needs the blob sealed (typically `create_metadata` of an object
    /// that has it as a member): that request reads the reply first, and fails with the seal's
    /// error if there is one. Until that next request returns, another process may not see
    /// the blob yet: use [`seal`](BlobWriter::seal) before handing the id to others.
    pub fn seal_before_next_request(mut self) -> Result<ObjectID> {
        self.finished = true;
        if self.id != EMPTY_BLOB_ID {
            self.client.send_unawaited(&Request::Seal { id: self.id })?;
            self.client.created(self.id);
        }
        Ok(self.id)
    }

    /// Gives the buffer back without sealing it.
    pub fn abort(mut self) -> Result<()> {
        self.finished = true;
        self.drop_buffer()
    }

    fn drop_buffer(&self) -> Result<()> {
        if self.id != EMPTY_BLOB_ID {
            self.client
                .call::<DropBufferReply>(&Request::DropBuffer { id: self.id })?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobWriter({}, {} bytes)", self.id, self.size)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.finished {
            // Best effort: if the connection is gone, the server reclaims the buffer anyway.
            let _ = self.drop_buffer();
        }
    }
}

impl Deref for BlobWriter {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.mapping {
            Some(mapping) => mapping.slice(self.offset, self.size),
            None => &[],
        }
    }
}

impl DerefMut for BlobWriter {
    fn deref_mut(&mut self) -> &mut [u8] {
        match &self.mapping {
            // SAFETY: the range lies inside the writable mapping (checked at creation); the
            // server gave it to this writer alone until sealed, and `&mut self` makes this the
            // only slice over it in this process.
            Some(mapping) => unsafe {
                std::slice::from_raw_parts_mut(mapping.address_mut(self.offset), self.size)
            },
            None => &mut [],
        }
    }
}
