//! Replies about spilling (Vineyard's `evict`, `load`, `unpin` and `is_spilled`).

use serde::{Deserialize, Serialize};

use super::{empty_replies, Reply};

empty_replies! {
    /// `evict_reply`: the blobs that could be spilled are on disk.
    EvictReply = "evict_reply";
    /// `load_reply`: the blobs are in memory (and pinned, if asked).
    LoadReply = "load_reply";
    /// `unpin_reply`: the blobs may be spilled again.
    UnpinReply = "unpin_reply";
}

/// `is_spilled_reply`: whether any blob of the object is spilled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsSpilledReply {
    /// True if at least one blob is on disk instead of in memory.
    pub is_spilled: bool,
}

impl Reply for IsSpilledReply {
    const TYPE: &'static str = "is_spilled_reply";
}
