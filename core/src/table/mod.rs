//! The object table: blobs, metadata objects, names and who holds what.
//!
//! All state of one instance lives here behind one lock (never held across I/O). Blobs are
//! ranges of the arena; objects are metadata trees whose members are blobs or other objects.
//! A blob read by a connection is *held* by it; deleting a held blob hides it at once but
//! frees its memory only when the last holder releases it or disconnects. Local objects are
//! also published in the metadata index (see `indexed`); before a blob that was published is
//! freed, the holds clients wrote to their rings count.

mod blobs;
mod indexed;
mod limits;
mod objects;
mod pattern;
mod remote;
mod reserved;
mod spill;
mod stored_tree;

pub use indexed::collect_blob_ids;
pub use limits::Limits;
pub use objects::{Created, Deleted};
pub use reserved::MAX_RESERVED_IDS;
pub use spill::{ReloadStart, SpillCandidate, SpillStatus};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::id::{IdGenerator, InstanceID, ObjectID};
use crate::meta_index::{HoldRing, MetaIndex};
use crate::store::{Arena, OffsetAllocator};

use pattern::Matcher;

/// Identifies one client connection inside the table.
pub type ConnectionId = u64;

#[derive(Debug)]
struct BlobEntry {
    offset: u64,
    size: u64,
    sealed: bool,
    creator: ConnectionId,
    /// Connections holding the blob (each counted once).
    holders: u32,
    /// Objects whose trees have this blob as a member.
    users: BTreeSet<ObjectID>,
    /// Was in the metadata index: clients may map it without asking (see `indexed`).
    published: bool,
    /// Where its bytes are (see `spill`): only a blob in memory has a valid `offset`.
    residence: spill::Residence,
    /// `load(pin=True)` calls not undone by `unpin`: a pinned blob is never spilled.
    pins: u32,
    /// The table's clock when it was last created, sealed or read: spilling takes the least
    /// recently used first.
    last_use: u64,
}

impl BlobEntry {
    /// A blob in memory at `offset`, created by `creator`.
    fn new(offset: u64, size: u64, sealed: bool, creator: ConnectionId) -> BlobEntry {
        BlobEntry {
            offset,
            size,
            sealed,
            creator,
            holders: 0,
            users: Default::default(),
            published: false,
            residence: spill::Residence::Memory,
            pins: 0,
            last_use: 0,
        }
    }
}

#[derive(Debug)]
struct ObjectEntry {
    /// The tree as stored: members reduced to `{"id": ...}` links.
    tree: stored_tree::StoredTree,
    /// Ids of direct members (blobs and objects), without repeats.
    members: Vec<ObjectID>,
    /// Objects whose trees have this object as a member.
    users: BTreeSet<ObjectID>,
    /// Levels of its expanded tree (1 for an object without members).
    depth: usize,
    /// Bytes its tree is counted as (see `limits`).
    bytes: u64,
}

/// Deepest expanded tree allowed: replies must stay parseable (JSON parsers bound recursion,
/// serde_json at 128) and expansion must not exhaust a server thread's stack.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug)]
struct RemoteObject {
    owner: InstanceID,
    tree: Map<String, Value>,
    /// Bytes its tree is counted as (see `limits`).
    bytes: u64,
}

#[derive(Debug, Default)]
struct ConnectionRefs {
    /// Blobs it holds, each with the holds taken from its ring not released yet (at least 1).
    held: HashMap<ObjectID, u32>,
    unsealed: HashSet<ObjectID>,
    reserved: Option<reserved::Reservation>,
    /// Where its client writes holds on blobs it found in the index.
    ring: Option<HoldRing>,
}

/// The state of one instance's store.
#[derive(Debug)]
pub struct ObjectTable {
    instance_id: InstanceID,
    ids: IdGenerator,
    arena: Arc<Arena>,
    allocator: OffsetAllocator,
    blobs: HashMap<ObjectID, BlobEntry>,
    /// Deleted blobs whose memory waits for their holders to let go.
    zombies: HashMap<ObjectID, BlobEntry>,
    /// Sealed local objects' trees in shared memory (none if it could not be created).
    index: Option<MetaIndex>,
    objects: HashMap<ObjectID, ObjectEntry>,
    /// Objects other instances published: expanded trees by id.
    remote: HashMap<ObjectID, RemoteObject>,
    names: BTreeMap<String, ObjectID>,
    connections: HashMap<ConnectionId, ConnectionRefs>,
    next_connection: ConnectionId,
    limits: Limits,
    /// Bytes of metadata held: trees of local and remote objects, and names.
    metadata_bytes: u64,
    /// What is spilled, and where spill files to remove go (see `spill`).
    spill: spill::SpillState,
}

impl ObjectTable {
    /// A table over `arena` for the instance `instance_id`, with the default limits.
    pub fn new(instance_id: InstanceID, arena: Arc<Arena>) -> ObjectTable {
        ObjectTable::with_limits(instance_id, arena, Limits::default())
    }

    /// A table over `arena` for the instance `instance_id` that keeps to `limits`.
    pub fn with_limits(instance_id: InstanceID, arena: Arc<Arena>, limits: Limits) -> ObjectTable {
        let index = MetaIndex::create(arena.read_fd(), arena.map_size())
            .inspect_err(|error| {
                tracing::warn!(%error, "cannot create the metadata index; every get asks the server")
            })
            .ok();
        ObjectTable {
            instance_id,
            ids: IdGenerator::new(instance_id),
            allocator: OffsetAllocator::new(arena.capacity()),
            arena,
            blobs: HashMap::new(),
            zombies: HashMap::new(),
            index,
            objects: HashMap::new(),
            remote: HashMap::new(),
            names: BTreeMap::new(),
            connections: HashMap::new(),
            next_connection: 1,
            limits,
            metadata_bytes: 0,
            spill: spill::SpillState::default(),
        }
    }

    /// Bytes of metadata held (local and remote objects' trees, names), as counted against
    /// `--max_metadata`.
    pub fn metadata_usage(&self) -> u64 {
        self.metadata_bytes
    }

    /// The most metadata the instance holds (`--max_metadata`).
    pub fn metadata_limit(&self) -> u64 {
        self.limits.metadata
    }

    /// Bytes allocated, including deleted blobs still held by readers.
    pub fn memory_usage(&self) -> u64 {
        self.allocator.capacity() - self.allocator.free_bytes()
    }

    /// Bytes the store can hold.
    pub fn memory_limit(&self) -> u64 {
        self.allocator.capacity()
    }

    /// Registers a new connection.
    pub fn open_connection(&mut self) -> ConnectionId {
        let id = self.next_connection;
        self.next_connection += 1;
        self.connections.insert(id, ConnectionRefs::default());
        id
    }

    /// Forgets a connection: its held blobs are released, its unsealed buffers freed.
    pub fn close_connection(&mut self, connection: ConnectionId) {
        let Some(refs) = self.connections.remove(&connection) else {
            return;
        };
        for id in refs.unsealed {
            if let Some(entry) = self.blobs.get(&id) {
                if !entry.sealed {
                    let entry = self.blobs.remove(&id).expect("present");
                    self.free_or_defer(id, entry);
                }
            }
        }
        for id in refs.held.into_keys() {
            self.drop_holder(id);
        }
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }
}
