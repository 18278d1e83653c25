//! `Put`: one put's writes. Builders describe the value as a tree whose large blobs are
//! placeholders; [`Put::run`] then allocates them all in one request (their pages mapped in
//! together), copies every buffer at once (spread over threads by `vineyard_core::copy_all`),
//! seals the blobs and creates the tree's objects, members first, without waiting for the
//! server, and waits once at the end. If anything fails, what
//! the put created is deleted again, so the store is as it was.
//!
//! Small buffers (up to [`SMALL_BLOB`]) travel in their request (`put_blob_unawaited`);
//! buffers that are already a blob of this instance (a value read with `get`, put again) are
//! reused when the caller says how to find them ([`Put::reusing`]).

use std::cell::RefCell;

use arrow::buffer::Buffer;
use serde_json::{Map, Value};
use vineyard_core::{BlobWriter, IpcClient, ObjectID, ObjectMeta, EMPTY_BLOB_ID};

use crate::buffer::blob_meta;
use crate::error::Result;

/// Buffers up to this many bytes travel whole in one request nobody waits for.
pub const SMALL_BLOB: usize = 16 << 10;

/// Finds the blob whose whole extent is `size` bytes at `address`, if there is one.
pub type FindBlob<'a> = &'a dyn Fn(usize, usize) -> Option<ObjectID>;

/// The field that marks a blob member not allocated yet (its value: the buffer's number).
const PENDING: &str = "__pending_blob_";

/// What a put wrote so far, to finish it or undo it.
#[derive(Default)]
struct Writes {
    /// The bytes of the blobs to allocate when the put is written, in order.
    pending: Vec<Buffer>,
    /// Blobs and objects created (sent), in order.
    created: Vec<ObjectID>,
}

/// One put: the client, the blobs to reuse, and what was written so far.
pub struct Put<'a> {
    client: &'a IpcClient,
    reuse: Option<FindBlob<'a>>,
    writes: RefCell<Writes>,
}

impl<'a> Put<'a> {
    /// A put through `client`.
    pub fn new(client: &'a IpcClient) -> Put<'a> {
        Put {
            client,
            reuse: None,
            writes: RefCell::default(),
        }
    }

    /// Reuses the blob `find(address, size)` names for a buffer that is exactly a blob of
    /// this instance, instead of copying it.
    pub fn reusing(mut self, find: FindBlob<'a>) -> Put<'a> {
        self.reuse = Some(find);
        self
    }

    /// The client.
    pub fn client(&self) -> &IpcClient {
        self.client
    }

    /// The member tree of a blob holding `bytes`: the empty blob, a reused blob, a small blob
    /// sent at once, or a placeholder for a blob allocated and filled when the put is
    /// written (all large blobs of a put in one request).
    pub fn bytes(&self, bytes: Buffer) -> Result<ObjectMeta> {
        let size = bytes.len();
        if size == 0 {
            return Ok(blob_meta(self.client, EMPTY_BLOB_ID, 0));
        }
        if let Some(id) = self
            .reuse
            .and_then(|find| find(bytes.as_ptr() as usize, size))
        {
            return Ok(blob_meta(self.client, id, size));
        }
        if size > SMALL_BLOB {
            // Allocated with every other large buffer when the put is written.
            let mut writes = self.writes.borrow_mut();
            let mut placeholder = ObjectMeta::new();
            placeholder.insert(PENDING, writes.pending.len());
            placeholder.set_nbytes(size as u64);
            writes.pending.push(bytes);
            return Ok(placeholder);
        }
        let id = self.client.put_blob_unawaited(bytes.as_slice())?;
        self.writes.borrow_mut().created.push(id);
        Ok(blob_meta(self.client, id, size))
    }

    /// Builds a tree with `build`, then writes it: copies, seals, creates, and waits for the
    /// server once. Returns the created tree; on failure, deletes what was created.
    pub fn run(self, build: impl FnOnce(&Put<'a>) -> Result<ObjectMeta>) -> Result<ObjectMeta> {
        let written = build(&self).and_then(|tree| self.write(tree));
        if written.is_err() {
            self.undo();
        }
        written
    }

    fn write(&self, tree: ObjectMeta) -> Result<ObjectMeta> {
        let pending = std::mem::take(&mut self.writes.borrow_mut().pending);
        let sizes: Vec<usize> = pending.iter().map(Buffer::len).collect();
        // One request for every large blob, whose pages are mapped in together.
        let mut writers: Vec<BlobWriter> = self.client.create_blobs(&sizes)?;
        vineyard_core::copy_all(
            writers
                .iter_mut()
                .zip(&pending)
                .map(|(writer, bytes)| (&mut writer[..], bytes.as_slice()))
                .collect(),
        );
        let mut blobs = Vec::with_capacity(writers.len());
        for writer in writers {
            let (id, size) = (writer.id(), writer.size());
            // Pushed first: should the seal fail to send, the blob is still deleted.
            self.writes.borrow_mut().created.push(id);
            writer.seal_before_next_request()?;
            blobs.push(blob_meta(self.client, id, size));
        }
        let created = self.create(tree, &blobs)?;
        self.client.flush()?;
        Ok(created)
    }

    /// Creates a tree's objects, members first; members travel as links (blobs in full).
    /// `blobs` are the trees of the large blobs, by their numbers in the placeholders.
    fn create(&self, tree: ObjectMeta, blobs: &[ObjectMeta]) -> Result<ObjectMeta> {
        let mut full = Map::new();
        let mut request = Map::new();
        for (name, value) in tree.into_map() {
            let Value::Object(member) = value else {
                request.insert(name.clone(), value.clone());
                full.insert(name, value);
                continue;
            };
            let mut member = ObjectMeta::from_json(Value::Object(member))?;
            if let Some(number) = member.get(PENDING).and_then(Value::as_u64) {
                member = blobs[number as usize].clone();
            } else if member.id().is_none() {
                member = self.create(member, blobs)?;
            }
            let sent = if member.is_blob() {
                Value::Object(member.as_map().clone())
            } else {
                let id = member.id().expect("created members have ids");
                Value::Object(Map::from_iter([("id".to_string(), id.to_string().into())]))
            };
            request.insert(name.clone(), sent);
            full.insert(name, Value::Object(member.into_map()));
        }
        let created = self
            .client
            .create_metadata_unawaited(&ObjectMeta::from_json(Value::Object(request))?)?;
        let id = created.id().expect("created trees have ids");
        self.writes.borrow_mut().created.push(id);
        for field in ["id", "signature", "instance_id"] {
            if let Some(value) = created.get(field) {
                full.insert(field.to_string(), value.clone());
            }
        }
        Ok(ObjectMeta::from_json(Value::Object(full))?)
    }

    /// Creates a tree that has no unwritten blobs now (without waiting), so that several
    /// trees of the put can share it as a member.
    pub(crate) fn create_now(&self, tree: ObjectMeta) -> Result<ObjectMeta> {
        self.create(tree, &[])
    }

    /// Deletes what the put created (blobs allocated but not sealed were given back as their
    /// writers dropped). Errors are ignored: the put's own error is the one reported.
    fn undo(&self) {
        let mut writes = self.writes.borrow_mut();
        writes.pending.clear();
        // Reads the replies of what was sent, so that the deletes below are answered.
        let _ = self.client.flush();
        let created = std::mem::take(&mut writes.created);
        if !created.is_empty() {
            let _ = self.client.delete(&created, true, false);
        }
        let _ = self.client.flush();
    }
}
