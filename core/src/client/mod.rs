//! `IpcClient`: a synchronous client over the UNIX socket (no runtime), usable from any thread.
//!
//! Each memory file is received once per connection and mapped once per mode; a blob is then
//! a slice of that mapping, so `get` costs one small request whatever the size.

mod blob;
mod connection;
mod inbox;
mod indexed;
mod mapping;
mod tree_cache;
mod writes;

use std::collections::{BTreeMap, HashMap};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

pub use blob::{hold_together, Blob, BlobWriter};
use connection::{Connection, Unread};
use mapping::Mapping;

use crate::error::{Error, Result};
use crate::id::{InstanceID, ObjectID, EMPTY_BLOB_ID};
use crate::meta::ObjectMeta;
use crate::meta_index::{HoldRing, IndexView};
use crate::protocol::reply::{
    ClearReply, ClusterMetaReply, CreateBufferReply, CreateBuffersReply, CreateDataReply,
    DebugReply, DelDataWithFeedbacksReply, DropNameReply, EvictReply, ExistsReply, GetBuffersReply,
    GetDataReply, GetNameReply, IfPersistReply, InstanceInfoReply, InstanceStatusReply,
    IsSpilledReply, ListNameReply, LoadReply, MemoryTrimReply, MetaIndexReply, PersistReply,
    PutNameReply, RegisterReply, UnpinReply,
};
use crate::protocol::{
    InstanceStatus, Pattern, Payload, Reply, Request, MAP_SIZE_SLACK, PROTOCOL_VERSION,
};

/// Objects' trees (shared, see [`IpcClient::get_objects_shared`]) and their blobs mapped for
/// reading.
pub type SharedObjects = (Vec<Arc<ObjectMeta>>, Vec<Blob>);

pub(crate) struct ClientInner {
    socket: PathBuf,
    instance_id: InstanceID,
    rpc_endpoint: String,
    /// The server takes ids its clients reserved (`reserve_ids_request`, our extension).
    reserves_ids: bool,
    pid: u32,
    connection: Mutex<Connection>,
    mappings: Mutex<HashMap<(i32, bool), Arc<Mapping>>>,
    /// The server's metadata index, mapped (our extension; `get` reads it first).
    index: Option<IndexView>,
    /// The trees of index entries, parsed.
    trees: tree_cache::TreeCache,
    /// Writes its threads have open, with what they created (see `writes`).
    writes: Mutex<writes::Writes>,
}

impl ClientInner {
    fn connection(&self) -> Result<MutexGuard<'_, Connection>> {
        if std::process::id() != self.pid {
            return Err(Error::ConnectionLost {
                message: format!(
                    "this client was connected in process {} and cannot be shared across fork(); \
                     connect again in the child process",
                    self.pid
                ),
            });
        }
        Ok(self
            .connection
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()))
    }

    fn call<R: Reply>(&self, request: &Request) -> Result<R> {
        self.connection()?.call(request)
    }

    /// Sends a request whose next request depends on it, without waiting for its reply.
    fn send_unawaited(&self, request: &Request) -> Result<()> {
        self.connection()?.send_unawaited(request, Unread::Check)
    }

    /// Drops one local handle on each of `ids`; for each last one the server is told: in the
    /// hold ring if there is room (no system call), else all in one write.
    fn release_all(&self, ids: &[ObjectID]) {
        let Ok(mut connection) = self.connection() else {
            return;
        };
        let mut released = Vec::new();
        for &id in ids {
            let Some(count) = connection.holds.get_mut(&id) else {
                continue;
            };
            *count -= 1;
            if *count == 0 {
                connection.holds.remove(&id);
                released.push(id);
            }
        }
        if released.is_empty() || connection.push_releases(&released) {
            return;
        }
        let requests: Vec<Request> = released
            .into_iter()
            .map(|id| Request::Release { id })
            .collect();
        // Best effort: a broken connection has released everything server-side already.
        let _ = connection.send_unawaited_all(&requests, Unread::Ignore);
    }

    /// The read-only mapping of memory file `store_fd`, if a reply made one already.
    fn mapped(&self, store_fd: i32) -> Option<Arc<Mapping>> {
        let mappings = self
            .mappings
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        mappings.get(&(store_fd, false)).cloned()
    }

    fn mapping(
        &self,
        connection: &Connection,
        payload: &Payload,
        writable: bool,
    ) -> Result<Arc<Mapping>> {
        let key = (payload.store_fd, writable);
        let mut mappings = self
            .mappings
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(mapping) = mappings.get(&key) {
            return Ok(Arc::clone(mapping));
        }
        let file = connection
            .files
            .get(&payload.store_fd)
            .ok_or_else(|| Error::Protocol {
                message: format!(
                    "the server referred to memory file {} but never sent it",
                    payload.store_fd
                ),
            })?;
        let length = (payload.map_size as u64).saturating_sub(MAP_SIZE_SLACK) as usize;
        let mapping = Arc::new(Mapping::new(file, length, writable)?);
        mappings.insert(key, Arc::clone(&mapping));
        Ok(mapping)
    }
}

/// A connection to one vineyard instance over its UNIX socket.
#[derive(Clone)]
pub struct IpcClient {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for IpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcClient")
            .field("socket", &self.inner.socket)
            .field("instance_id", &self.inner.instance_id)
            .finish()
    }
}

/// A blob of a reply, mapped (`None`: the empty blob) but not wrapped in a handle yet.
struct MappedBlob {
    id: ObjectID,
    place: Option<(Arc<Mapping>, usize, usize)>,
}

impl MappedBlob {
    fn empty(id: ObjectID) -> MappedBlob {
        MappedBlob { id, place: None }
    }
}

/// Counts this connection's new handles on mapped blobs (each released when its last handle
/// goes).
fn count_handles(connection: &mut Connection, mapped: &[MappedBlob]) {
    for blob in mapped.iter().filter(|blob| blob.place.is_some()) {
        *connection.holds.entry(blob.id).or_insert(0) += 1;
    }
}

/// The trees of `ids` in a `get_data_reply`, in order; an id without one does not exist.
fn metas_of(mut content: Map<String, Value>, ids: &[ObjectID]) -> Result<Vec<Arc<ObjectMeta>>> {
    ids.iter()
        .map(|id| match content.remove(&id.to_string()) {
            Some(tree) => ObjectMeta::from_json(tree).map(Arc::new),
            None => Err(Error::ObjectNotExists { id: *id }),
        })
        .collect()
}

/// Maps the server's metadata index and gives the connection its hold ring; `None` if the
/// server cannot give them.
fn open_index(connection: &mut Connection) -> Result<Option<IndexView>> {
    let reply: MetaIndexReply = match connection.call(&Request::MetaIndex) {
        Ok(reply) => reply,
        Err(Error::ConnectionLost { message }) => return Err(Error::ConnectionLost { message }),
        Err(_) => return Ok(None),
    };
    let index = connection.files.remove(&reply.index_fd);
    let ring = connection.files.remove(&reply.ring_fd);
    let (Some(index), Some(ring)) = (index, ring) else {
        return Ok(None);
    };
    match (IndexView::open(&index), HoldRing::open(ring)) {
        (Ok(view), Ok(ring)) => {
            connection.ring = Some(ring);
            Ok(Some(view))
        }
        _ => Ok(None),
    }
}

impl IpcClient {
    /// Connects to the instance listening on `socket` and registers.
    pub fn connect(socket: impl AsRef<Path>) -> Result<IpcClient> {
        let socket = socket.as_ref().to_path_buf();
        let stream = UnixStream::connect(&socket).map_err(|source| Error::ConnectionFailed {
            socket: socket.clone(),
            source,
        })?;
        let mut connection = Connection::new(stream);
        let reply: RegisterReply = connection.call(&Request::Register {
            version: PROTOCOL_VERSION.into(),
            store_matches: true,
        })?;
        if !reply.store_match {
            return Err(Error::invalid(
                "the server runs a different kind of store (plasma); connect to a normal store",
            ));
        }
        let index = if reply.meta_index {
            open_index(&mut connection)?
        } else {
            None
        };
        Ok(IpcClient {
            inner: Arc::new(ClientInner {
                socket,
                instance_id: reply.instance_id,
                rpc_endpoint: reply.rpc_endpoint,
                reserves_ids: reply.reserve_ids,
                pid: std::process::id(),
                connection: Mutex::new(connection),
                mappings: Mutex::new(HashMap::new()),
                index,
                trees: Default::default(),
                writes: Mutex::default(),
            }),
        })
    }

    /// The socket this client is connected to.
    pub fn socket(&self) -> &Path {
        &self.inner.socket
    }

    /// The connected instance's id.
    pub fn instance_id(&self) -> InstanceID {
        self.inner.instance_id
    }

    /// The instance's RPC endpoint (`host:port`).
    pub fn rpc_endpoint(&self) -> &str {
        &self.inner.rpc_endpoint
    }

    /// Opens a new, independent connection to the same instance (e.g. after `fork`).
    pub fn reconnect(&self) -> Result<IpcClient> {
        IpcClient::connect(&self.inner.socket)
    }

    /// Allocates a writable buffer of `size` bytes.
    pub fn create_blob(&self, size: usize) -> Result<BlobWriter> {
        let mut connection = self.inner.connection()?;
        let reply: CreateBufferReply =
            connection.call(&Request::CreateBuffer { size: size as u64 })?;
        let payload = reply.created;
        if payload.data_size as usize != size {
            return Err(Error::Protocol {
                message: format!(
                    "asked for {size} bytes, the server allocated {}",
                    payload.data_size
                ),
            });
        }
        let mapping = if size == 0 {
            None
        } else {
            let mapping = self.inner.mapping(&connection, &payload, true)?;
            mapping.check(payload.data_offset as usize, size)?;
            // Fault the pages in with one call rather than one trap per page while copying.
            mapping.populate_for_write(payload.data_offset as usize, size);
            Some(mapping)
        };
        drop(connection);
        Ok(BlobWriter::new(
            payload.id(),
            mapping,
            payload.data_offset as usize,
            size,
            Arc::clone(&self.inner),
        ))
    }

    /// Allocates writable buffers of `sizes` bytes in one request (all or none), and maps
    /// their pages in together, spread over threads when they add up to a large range.
    pub fn create_blobs(&self, sizes: &[usize]) -> Result<Vec<BlobWriter>> {
        if sizes.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.inner.connection()?;
        let reply: CreateBuffersReply = connection.call(&Request::CreateBuffers {
            sizes: sizes.iter().map(|&size| size as u64).collect(),
        })?;
        if reply.payloads.len() != sizes.len() {
            return Err(Error::Protocol {
                message: format!(
                    "asked for {} buffers, the server allocated {}",
                    sizes.len(),
                    reply.payloads.len()
                ),
            });
        }
        let mut placed = Vec::with_capacity(sizes.len());
        for (payload, &size) in reply.payloads.iter().zip(sizes) {
            if payload.data_size as usize != size {
                return Err(Error::Protocol {
                    message: format!(
                        "asked for {size} bytes, the server allocated {}",
                        payload.data_size
                    ),
                });
            }
            let mapping = if size == 0 {
                None
            } else {
                let mapping = self.inner.mapping(&connection, payload, true)?;
                mapping.check(payload.data_offset as usize, size)?;
                Some(mapping)
            };
            placed.push((payload.id(), mapping, payload.data_offset as usize, size));
        }
        drop(connection);
        mapping::populate_for_writes(
            placed.iter().filter_map(|(_, mapping, offset, size)| {
                Some((&**mapping.as_ref()?, *offset, *size))
            }),
        );
        Ok(placed
            .into_iter()
            .map(|(id, mapping, offset, size)| {
                BlobWriter::new(id, mapping, offset, size, Arc::clone(&self.inner))
            })
            .collect())
    }

    /// Copies `bytes` into a new sealed blob.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<ObjectID> {
        let mut writer = self.create_blob(bytes.len())?;
        crate::copy::copy_bytes(&mut writer, bytes);
        writer.seal()
    }

    /// Stores small `bytes` as a sealed blob without waiting for the server. The bytes travel
    /// in the request (as hex text: keep this to small payloads, large ones belong in
    /// [`IpcClient::create_blob`]) and the blob is named after an id this connection
    /// reserved. As with [`IpcClient::create_metadata_unawaited`], an error reaches this
    /// client's next awaited request, and other clients asking for the blob are answered
    /// after it. Waits as `put_bytes` does when the server cannot take reserved ids.
    pub fn put_blob_unawaited(&self, bytes: &[u8]) -> Result<ObjectID> {
        if bytes.is_empty() {
            return Ok(EMPTY_BLOB_ID);
        }
        if !self.inner.reserves_ids {
            return self.put_bytes(bytes);
        }
        let mut connection = self.inner.connection()?;
        let id = connection.next_reserved_id()?.as_blob();
        connection.send_unawaited(
            &Request::PutBlob {
                id,
                data: bytes.to_vec(),
            },
            Unread::Created(id),
        )?;
        drop(connection);
        self.inner.created(id);
        Ok(id)
    }

    /// Maps sealed blobs for reading. Fails if any does not exist.
    pub fn get_blobs(&self, ids: &[ObjectID]) -> Result<Vec<Blob>> {
        let stored: Vec<ObjectID> = ids
            .iter()
            .copied()
            .filter(|&id| id != EMPTY_BLOB_ID)
            .collect();
        let from_index = if stored.is_empty() {
            None
        } else {
            self.get_from_index(&stored)?
        };
        let found: HashMap<ObjectID, Blob> = match from_index {
            Some((_, blobs)) => blobs.into_iter().map(|b| (b.id(), b)).collect(),
            None => {
                let mut connection = self.inner.connection()?;
                let reply: GetBuffersReply = connection.call(&Request::GetBuffers {
                    ids: ids.to_vec(),
                    unsafe_read: false,
                })?;
                let mapped = self.map_payloads(&mut connection, reply.payloads)?;
                drop(connection);
                self.wrap(mapped).map(|b| (b.id(), b)).collect()
            }
        };
        ids.iter()
            .map(|&id| match found.get(&id) {
                Some(blob) => Ok(blob.clone()),
                None if id == EMPTY_BLOB_ID => Ok(Blob::empty()),
                // What was found drops and releases its holds.
                None => Err(Error::ObjectNotExists { id }),
            })
            .collect()
    }

    /// Maps the payloads of a reply and counts this connection's new handles on them. On
    /// failure the server's holds on them are dropped again.
    fn map_payloads(
        &self,
        connection: &mut Connection,
        payloads: Vec<Payload>,
    ) -> Result<Vec<MappedBlob>> {
        let mut mapped = Vec::with_capacity(payloads.len());
        for payload in &payloads {
            if payload.data_size == 0 {
                mapped.push(MappedBlob::empty(payload.id()));
                continue;
            }
            let (offset, size) = (payload.data_offset as usize, payload.data_size as usize);
            let mapping = self
                .inner
                .mapping(connection, payload, false)
                .and_then(|mapping| mapping.check(offset, size).map(|()| mapping));
            match mapping {
                Ok(mapping) => mapped.push(MappedBlob {
                    id: payload.id(),
                    place: Some((mapping, offset, size)),
                }),
                Err(error) => {
                    for payload in &payloads {
                        let id = payload.id();
                        if payload.data_size > 0 && !connection.holds.contains_key(&id) {
                            let _ =
                                connection.send_unawaited(&Request::Release { id }, Unread::Ignore);
                        }
                    }
                    return Err(error);
                }
            }
        }
        count_handles(connection, &mapped);
        Ok(mapped)
    }

    /// Blob handles over mapped payloads (with the connection unlocked: a handle dropped
    /// later locks it to release its hold).
    fn wrap(&self, mapped: Vec<MappedBlob>) -> impl Iterator<Item = Blob> + '_ {
        mapped.into_iter().map(|blob| match blob.place {
            Some((mapping, offset, size)) => Blob::new(
                blob.id,
                Some(mapping),
                offset,
                size,
                Some(Arc::clone(&self.inner)),
            ),
            None => Blob::new(blob.id, None, 0, 0, None),
        })
    }

    /// The metadata trees of `ids` (members expanded) and their blobs on this instance,
    /// mapped for reading, in one round trip. Fails if any object does not exist.
    pub fn get_objects(&self, ids: &[ObjectID]) -> Result<(Vec<ObjectMeta>, Vec<Blob>)> {
        let (metas, blobs) = self.get_objects_shared(ids)?;
        Ok((metas.into_iter().map(Arc::unwrap_or_clone).collect(), blobs))
    }

    /// [`IpcClient::get_objects`] with the trees shared: a tree read from the metadata index
    /// is parsed once per version of its entry, and a `get` of the same object again takes
    /// no copy of it.
    pub fn get_objects_shared(&self, ids: &[ObjectID]) -> Result<SharedObjects> {
        if let Some(found) = self.get_from_index(ids)? {
            return Ok(found);
        }
        let mut connection = self.inner.connection()?;
        let reply: GetDataReply = connection.call(&Request::GetData {
            ids: ids.to_vec(),
            sync_remote: true,
            wait: false,
            buffers: true,
        })?;
        let mapped = self.map_payloads(&mut connection, reply.payloads)?;
        drop(connection);
        let blobs = self.wrap(mapped).collect();
        Ok((metas_of(reply.content, ids)?, blobs))
    }

    /// Maps one sealed blob for reading.
    pub fn get_blob(&self, id: ObjectID) -> Result<Blob> {
        Ok(self.get_blobs(&[id])?.remove(0))
    }

    /// Stores a metadata tree whose members exist; returns it with `id`, `signature` and
    /// `instance_id` filled in.
    pub fn create_metadata(&self, meta: &ObjectMeta) -> Result<ObjectMeta> {
        let mut meta = meta.clone();
        if meta.instance_id().is_none() {
            meta.set_instance_id(self.instance_id());
        }
        let reply: CreateDataReply = self.inner.call(&Request::CreateData {
            contents: vec![meta.as_map().clone()],
            plural: false,
            assigned: None,
        })?;
        meta.set_id(reply.id);
        meta.insert("signature", reply.signature);
        meta.set_instance_id(reply.instance_id);
        self.inner.created(reply.id);
        Ok(meta)
    }

    /// Stores a metadata tree like [`IpcClient::create_metadata`], without waiting for the
    /// server: the object gets an id this connection reserved. The create's error, if any,
    /// fails this client's next awaited request (or [`IpcClient::flush`]). Other clients
    /// that ask for the id meanwhile are answered once the create is handled.
    ///
    /// Waits as `create_metadata` does when the server cannot take reserved ids (Vineyard's
    /// own) or when a member was made on another instance (the object is then global).
    pub fn create_metadata_unawaited(&self, meta: &ObjectMeta) -> Result<ObjectMeta> {
        let instance = self.instance_id();
        let remote_member = meta.as_map().values().any(|member| {
            member
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| id.parse::<ObjectID>().ok())
                .is_some_and(|id| id != EMPTY_BLOB_ID && !id.made_by(instance))
        });
        if !self.inner.reserves_ids || remote_member {
            return self.create_metadata(meta);
        }
        let mut meta = meta.clone();
        if meta.instance_id().is_none() {
            meta.set_instance_id(instance);
        }
        let mut connection = self.inner.connection()?;
        let id = connection.next_reserved_id()?;
        meta.set_id(id);
        meta.insert("signature", id.0);
        connection.send_unawaited(
            &Request::CreateData {
                contents: vec![meta.as_map().clone()],
                plural: false,
                assigned: Some(id),
            },
            Unread::Created(id),
        )?;
        drop(connection);
        self.inner.created(id);
        Ok(meta)
    }

    /// The metadata trees of `ids`, members expanded. Fails if any does not exist.
    pub fn get_metadatas(&self, ids: &[ObjectID]) -> Result<Vec<ObjectMeta>> {
        let metas = self.get_metadatas_shared(ids)?;
        Ok(metas.into_iter().map(Arc::unwrap_or_clone).collect())
    }

    /// [`IpcClient::get_metadatas`] with the trees shared (see
    /// [`IpcClient::get_objects_shared`]).
    pub fn get_metadatas_shared(&self, ids: &[ObjectID]) -> Result<Vec<Arc<ObjectMeta>>> {
        if let Some(metas) = self.get_metadatas_from_index(ids)? {
            return Ok(metas);
        }
        let reply: GetDataReply = self.inner.call(&Request::GetData {
            ids: ids.to_vec(),
            sync_remote: true,
            wait: false,
            buffers: false,
        })?;
        metas_of(reply.content, ids)
    }

    /// The metadata tree of one object.
    pub fn get_metadata(&self, id: ObjectID) -> Result<ObjectMeta> {
        Ok(self.get_metadatas(&[id])?.remove(0))
    }

    /// Metadata of objects whose typename matches a glob (or a regex), up to `limit`.
    pub fn list_metadatas(
        &self,
        pattern: &str,
        regex: bool,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>> {
        let reply: GetDataReply = self.inner.call(&Request::ListData {
            pattern: Pattern {
                text: pattern.into(),
                regex,
                limit,
            },
        })?;
        reply
            .content
            .into_iter()
            .map(|(_, tree)| ObjectMeta::from_json(tree))
            .collect()
    }

    /// Deletes objects (see `del_data`: `force` also deletes users, `deep` unused members).
    pub fn delete(&self, ids: &[ObjectID], force: bool, deep: bool) -> Result<Vec<ObjectID>> {
        let reply: DelDataWithFeedbacksReply = self.inner.call(&Request::DelData {
            ids: ids.to_vec(),
            force,
            deep,
            fastpath: false,
            memory_trim: false,
            feedback: true,
        })?;
        Ok(reply.deleted_bids)
    }

    /// True if the object or sealed blob exists.
    pub fn exists(&self, id: ObjectID) -> Result<bool> {
        let reply: ExistsReply = self.inner.call(&Request::Exists { id })?;
        Ok(reply.exists)
    }

    /// Publishes an object (and its members) to the cluster.
    pub fn persist(&self, id: ObjectID) -> Result<()> {
        self.inner
            .call::<PersistReply>(&Request::Persist { id })
            .map(drop)
    }

    /// Whether an object is persisted.
    pub fn is_persisted(&self, id: ObjectID) -> Result<bool> {
        let reply: IfPersistReply = self.inner.call(&Request::IfPersist { id })?;
        Ok(reply.persist)
    }

    /// Names a persisted object.
    pub fn put_name(&self, id: ObjectID, name: &str) -> Result<()> {
        self.inner
            .call::<PutNameReply>(&Request::PutName {
                id,
                name: name.into(),
            })
            .map(drop)
    }

    /// The object a name points at; with `wait`, blocks until the name exists.
    pub fn get_name(&self, name: &str, wait: bool) -> Result<ObjectID> {
        let reply: GetNameReply = self.inner.call(&Request::GetName {
            name: name.into(),
            wait,
        })?;
        Ok(reply.object_id)
    }

    /// Removes a name.
    pub fn drop_name(&self, name: &str) -> Result<()> {
        self.inner
            .call::<DropNameReply>(&Request::DropName { name: name.into() })
            .map(drop)
    }

    /// Names matching a glob (or a regex), up to `limit`.
    pub fn list_names(
        &self,
        pattern: &str,
        regex: bool,
        limit: usize,
    ) -> Result<Vec<(String, ObjectID)>> {
        let reply: ListNameReply = self.inner.call(&Request::ListName {
            pattern: Pattern {
                text: pattern.into(),
                regex,
                limit,
            },
        })?;
        Ok(reply.into_names())
    }

    /// Memory and connection figures.
    pub fn status(&self) -> Result<InstanceStatus> {
        let reply: InstanceStatusReply = self.inner.call(&Request::InstanceStatus)?;
        Ok(reply.meta)
    }

    /// The cluster's instances, keyed `i<instance id>`.
    pub fn cluster_info(&self) -> Result<BTreeMap<String, InstanceInfoReply>> {
        let reply: ClusterMetaReply = self.inner.call(&Request::ClusterMeta)?;
        Ok(reply.meta)
    }

    /// Waits for the replies of requests sent without waiting for them (see
    /// [`BlobWriter::seal_before_next_request`]): once it returns, those blobs are sealed
    /// for every client. Fails with the first of their errors.
    pub fn flush(&self) -> Result<()> {
        self.inner.connection()?.flush()
    }

    /// Ends a `put` whose seals and creates were sent without waiting. This server answers
    /// other clients only after such requests (see [`IpcClient::create_metadata_unawaited`]),
    /// so nothing is left to do; with a server that does not (Vineyard's), waits for them.
    pub fn finish_put(&self) -> Result<()> {
        if self.inner.reserves_ids {
            Ok(())
        } else {
            self.flush()
        }
    }

    /// Sends Vineyard's debug command; the server echoes `payload` (ours also fails with the
    /// status code `{"raise": code}` asks for, to show how each code reaches a client).
    pub fn debug(&self, payload: Value) -> Result<Value> {
        let reply: DebugReply = self.inner.call(&Request::Debug { payload })?;
        Ok(reply.result)
    }

    /// Spills the blobs of `ids` (objects or blobs) to the instance's `--spill_path` now,
    /// those no client holds and not pinned (Vineyard's `evict`).
    pub fn evict(&self, ids: &[ObjectID]) -> Result<()> {
        self.inner
            .call::<EvictReply>(&Request::Evict { ids: ids.to_vec() })
            .map(drop)
    }

    /// Brings the spilled blobs of `ids` back into memory; with `pin`, they are not spilled
    /// again until [`IpcClient::unpin`] (Vineyard's `load`).
    pub fn load(&self, ids: &[ObjectID], pin: bool) -> Result<()> {
        self.inner
            .call::<LoadReply>(&Request::Load {
                ids: ids.to_vec(),
                pin,
            })
            .map(drop)
    }

    /// Lets the blobs of `ids` be spilled again (Vineyard's `unpin`).
    pub fn unpin(&self, ids: &[ObjectID]) -> Result<()> {
        self.inner
            .call::<UnpinReply>(&Request::Unpin { ids: ids.to_vec() })
            .map(drop)
    }

    /// Whether any blob of the object (or the blob) is spilled to disk.
    pub fn is_spilled(&self, id: ObjectID) -> Result<bool> {
        let reply: IsSpilledReply = self.inner.call(&Request::IsSpilled { id })?;
        Ok(reply.is_spilled)
    }

    /// Gives the memory of the instance's free ranges back to the system (shared memory
    /// use drops by what no blob holds); true if any was released.
    pub fn memory_trim(&self) -> Result<bool> {
        let reply: MemoryTrimReply = self.inner.call(&Request::MemoryTrim)?;
        Ok(reply.trimmed)
    }

    /// Deletes every object and blob of the instance.
    pub fn clear(&self) -> Result<()> {
        self.inner.call::<ClearReply>(&Request::Clear).map(drop)
    }
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        if std::process::id() == self.pid {
            if let Ok(connection) = self.connection.get_mut() {
                let _ = connection.send_only(&Request::Exit);
            }
        }
    }
}
