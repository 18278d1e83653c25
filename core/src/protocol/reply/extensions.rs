//! Replies to our own requests (Vineyard's clients never send them; a client learns that the
//! server takes them from `register_reply`).

use serde::{Deserialize, Serialize};

use super::{wire, Reply};
use crate::id::ObjectID;

/// `reserve_ids_reply`: ids `first .. first + count` are this connection's to give.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveIdsReply {
    /// The first reserved id.
    pub first: u64,
    /// How many.
    pub count: u64,
}

impl Reply for ReserveIdsReply {
    const TYPE: &'static str = "reserve_ids_reply";
}

/// `put_blob_reply`: the small blob is stored and sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutBlobReply {
    /// The blob's id.
    #[serde(with = "wire::id")]
    pub id: ObjectID,
}

impl Reply for PutBlobReply {
    const TYPE: &'static str = "put_blob_reply";
}

/// `meta_index_reply`: the metadata index and this connection's hold ring; both files follow
/// the reply, in the order of `fds`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaIndexReply {
    /// The files sent after the reply.
    pub fds: Vec<i32>,
    /// The server's number of the index file.
    pub index_fd: i32,
    /// The server's number of the ring file.
    pub ring_fd: i32,
}

impl Reply for MetaIndexReply {
    const TYPE: &'static str = "meta_index_reply";
}
