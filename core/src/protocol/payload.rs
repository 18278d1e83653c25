//! The payload descriptor: where a blob's bytes live in which shared-memory file.

use serde::{Deserialize, Serialize};

use crate::id::{ObjectID, EMPTY_BLOB_ID};

/// Vineyard reports a memory file's `map_size` as the file's size, and clients map
/// `map_size - 8` bytes of it.
pub const MAP_SIZE_SLACK: u64 = 8;

/// One blob's location, as in `create_buffer_reply` and `get_buffers_reply`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The blob id.
    pub object_id: u64,
    /// The server's fd number of the memory file; the key of the client's fd table.
    pub store_fd: i32,
    /// Offset of the bytes in that file.
    pub data_offset: i64,
    /// Length of the blob.
    pub data_size: i64,
    /// The memory file's size; clients map `map_size - 8` bytes.
    pub map_size: i64,
    /// The blob's address in the server (informational).
    #[serde(default)]
    pub pointer: u64,
    /// Whether the blob is sealed.
    #[serde(default)]
    pub is_sealed: bool,
    /// Whether the store owns the memory.
    #[serde(default = "default_true")]
    pub is_owner: bool,
    /// GPU memory (never, here).
    #[serde(default)]
    pub is_gpu: bool,
}

fn default_true() -> bool {
    true
}

impl Payload {
    /// The payload of the empty blob: no file, no bytes.
    pub fn empty() -> Payload {
        Payload {
            object_id: EMPTY_BLOB_ID.0,
            store_fd: -1,
            data_offset: 0,
            data_size: 0,
            map_size: 0,
            pointer: 0,
            is_sealed: true,
            is_owner: true,
            is_gpu: false,
        }
    }

    /// The blob id.
    pub fn id(&self) -> ObjectID {
        ObjectID(self.object_id)
    }
}
