//! Replies about buffers: create, seal, get, drop, shrink, hold and release.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::{empty_replies, wire, Reply};
use crate::id::ObjectID;
use crate::protocol::Payload;

/// `create_buffer_reply`: the new buffer; its memory file's fd follows if `fd` is not -1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateBufferReply {
    /// The buffer's blob id.
    #[serde(with = "wire::id")]
    pub id: ObjectID,
    /// Where it lives.
    pub created: Payload,
    /// The memory file sent after the reply (-1: already sent on this connection, or none).
    pub fd: i32,
}

impl Reply for CreateBufferReply {
    const TYPE: &'static str = "create_buffer_reply";
}

/// `create_buffers_reply`: several new buffers (payloads also under `"0"`, `"1"`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CreateBuffersReply {
    /// The buffers' blob ids.
    #[serde(with = "wire::ids")]
    pub ids: Vec<ObjectID>,
    /// Memory files sent after the reply, in order.
    pub fds: Vec<i32>,
    /// Where the buffers live.
    pub payloads: Vec<Payload>,
}

impl Reply for CreateBuffersReply {
    const TYPE: &'static str = "create_buffers_reply";
}

impl Serialize for CreateBuffersReply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("num", &self.payloads.len())?;
        map.serialize_entry("ids", &Ids(&self.ids))?;
        map.serialize_entry("fds", &self.fds)?;
        map.serialize_entry("payloads", &self.payloads)?;
        numbered(&mut map, &self.payloads)?;
        map.end()
    }
}

/// `get_buffers_reply`: sealed blobs mapped for reading (payloads also under `"0"`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct GetBuffersReply {
    /// Memory files sent after the reply, in order.
    #[serde(default)]
    pub fds: Vec<i32>,
    /// Where the blobs live (unknown ids are left out).
    #[serde(default)]
    pub payloads: Vec<Payload>,
}

impl GetBuffersReply {
    /// The reply for `payloads`, with the memory files `fds` this connection lacks.
    pub fn new(payloads: Vec<Payload>, fds: Vec<i32>) -> GetBuffersReply {
        GetBuffersReply { fds, payloads }
    }
}

impl Reply for GetBuffersReply {
    const TYPE: &'static str = "get_buffers_reply";
}

impl Serialize for GetBuffersReply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("num", &self.payloads.len())?;
        map.serialize_entry("fds", &self.fds)?;
        map.serialize_entry("compress", &false)?;
        map.serialize_entry("payloads", &self.payloads)?;
        numbered(&mut map, &self.payloads)?;
        map.end()
    }
}

/// Vineyard's clients read payloads under numbered keys (`"0"`, `"1"`, ...).
fn numbered<M: SerializeMap>(map: &mut M, payloads: &[Payload]) -> Result<(), M::Error> {
    for (index, payload) in payloads.iter().enumerate() {
        map.serialize_entry(&index.to_string(), payload)?;
    }
    Ok(())
}

/// Ids serialised as numbers inside a hand-written map.
struct Ids<'a>(&'a [ObjectID]);

impl Serialize for Ids<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        wire::ids::serialize(self.0, serializer)
    }
}

empty_replies! {
    /// `seal_reply`: the blob is sealed.
    SealReply = "seal_reply";
    /// `drop_buffer_reply`: the buffer is freed.
    DropBufferReply = "drop_buffer_reply";
    /// `shrink_buffer_reply`: the buffer is smaller.
    ShrinkBufferReply = "shrink_buffer_reply";
    /// `increase_reference_count_reply`: the connection holds the blobs.
    IncreaseReferenceCountReply = "increase_reference_count_reply";
    /// `release_reply`: the connection no longer holds the blob.
    ReleaseReply = "release_reply";
}
