//! Replies about the instance: register, status, the cluster, clear, memory trim, debug.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{empty_replies, Reply};
use crate::id::InstanceID;

/// `register_reply`: who the instance is and which of our extensions it takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterReply {
    /// The instance's id.
    pub instance_id: InstanceID,
    /// Its IPC socket.
    #[serde(default)]
    pub ipc_socket: String,
    /// Its RPC (Flight) endpoint, `host:port` (`0.0.0.0:0`: none).
    #[serde(default)]
    pub rpc_endpoint: String,
    /// Always 0 (sessions are not supported).
    #[serde(default)]
    pub session_id: u64,
    /// False if the client asked for a store this server does not run (plasma).
    #[serde(default = "yes")]
    pub store_match: bool,
    /// The server takes ids its clients reserved (ours: `reserve_ids_request`).
    #[serde(default)]
    pub reserve_ids: bool,
    /// The server shares a metadata index (ours: `meta_index_request`).
    #[serde(default)]
    pub meta_index: bool,
    /// Whether RPC payloads may be compressed (never, here).
    #[serde(default)]
    pub support_rpc_compression: bool,
    /// The Vineyard release whose protocol the server speaks.
    #[serde(default)]
    pub version: String,
}

fn yes() -> bool {
    true
}

impl Reply for RegisterReply {
    const TYPE: &'static str = "register_reply";
}

/// Memory and connection figures of an instance: `client.status` in every client (Rust,
/// Python, Flight's `status` action).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// The instance's id.
    pub instance_id: InstanceID,
    /// `local` or a cluster deployment.
    pub deployment: String,
    /// Bytes of shared memory in use.
    pub memory_usage: u64,
    /// Bytes of shared memory in all.
    pub memory_limit: u64,
    /// Requests waiting for objects or names.
    pub deferred_requests: u64,
    /// Open IPC connections.
    pub ipc_connections: u64,
    /// Open RPC connections.
    pub rpc_connections: u64,
    /// Bytes of metadata the instance holds (ours: 0 from a server that does not say).
    #[serde(default)]
    pub metadata_usage: u64,
    /// The most metadata it holds (`--max_metadata`; ours).
    #[serde(default)]
    pub metadata_limit: u64,
    /// Bytes of blobs spilled to `--spill_path` (ours: 0 from a server that does not say).
    #[serde(default)]
    pub spilled_bytes: u64,
    /// Blobs spilled to `--spill_path` (ours).
    #[serde(default)]
    pub spilled_blobs: u64,
    /// Bytes written to `--spill_path` since start (ours).
    #[serde(default)]
    pub spilled_total_bytes: u64,
    /// Bytes read back from `--spill_path` since start (ours).
    #[serde(default)]
    pub reloaded_total_bytes: u64,
}

/// `instance_status_reply`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatusReply {
    /// The figures.
    pub meta: InstanceStatus,
}

impl Reply for InstanceStatusReply {
    const TYPE: &'static str = "instance_status_reply";
}

/// One live instance of the cluster, as `cluster_meta` lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfoReply {
    /// The instance's id.
    pub hostid: InstanceID,
    /// The machine it runs on.
    #[serde(default)]
    pub hostname: String,
    /// The same (Vineyard reports the Kubernetes node name here).
    #[serde(default)]
    pub nodename: String,
    /// Its IPC socket.
    #[serde(default)]
    pub ipc_socket: String,
    /// Its RPC endpoint.
    #[serde(default)]
    pub rpc_endpoint: String,
    /// When it joined, in milliseconds since the epoch.
    #[serde(default)]
    pub timestamp: u64,
}

/// `cluster_meta`: the live instances, keyed `i<instance id>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMetaReply {
    /// The instances.
    #[serde(default)]
    pub meta: BTreeMap<String, InstanceInfoReply>,
}

impl Reply for ClusterMetaReply {
    const TYPE: &'static str = "cluster_meta";
}

/// `memory_trim_reply`: nothing is trimmed (the store never holds freed pages back).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryTrimReply {
    /// Whether memory was given back.
    pub trimmed: bool,
}

impl Reply for MemoryTrimReply {
    const TYPE: &'static str = "memory_trim_reply";
}

/// `debug_reply`: the command's payload, echoed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DebugReply {
    /// What was sent.
    #[serde(default)]
    pub result: Value,
}

impl Reply for DebugReply {
    const TYPE: &'static str = "debug_reply";
}

empty_replies! {
    /// `clear_reply`: every object is deleted.
    ClearReply = "clear_reply";
    /// `exit_reply`: never sent (the server closes the connection instead); named for
    /// completeness.
    ExitReply = "exit_reply";
    /// `new_session_reply` (sessions are not supported: always an error).
    SessionReply = "new_session_reply";
    /// `delete_session_reply` (sessions are not supported: always an error).
    DeleteSessionReply = "delete_session_reply";
}
