//! What a server is started with: the flags of `vineyardd` and `python -m vineyard`.

use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use crate::id::InstanceID;
use crate::table::Limits;

/// Permission bits of the IPC socket unless `--socket_mode` says otherwise: owner only.
pub const DEFAULT_SOCKET_MODE: u32 = 0o600;

/// Where an instance keeps cluster-wide metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetaBackend {
    /// In-process; the instance runs alone.
    Local,
    /// A shared etcd, which must answer.
    Etcd,
    /// etcd if one answers or can be started on this machine; otherwise alone.
    Auto,
}

/// Everything a server needs to start.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The UNIX socket clients connect to.
    pub socket: PathBuf,
    /// Permission bits of the socket file (`0o600`: only the owner may connect).
    pub socket_mode: u32,
    /// Bytes of shared memory for blobs.
    pub size: u64,
    /// The metadata backend.
    pub meta: MetaBackend,
    /// The etcd endpoint (for `MetaBackend::Etcd`).
    pub etcd_endpoint: String,
    /// Key prefix in etcd.
    pub etcd_prefix: String,
    /// The etcd program to start when none answers (`MetaBackend::Auto`); else `etcd` on PATH.
    pub etcd_cmd: Option<PathBuf>,
    /// Port of the RPC (Flight) service.
    pub rpc_socket_port: u16,
    /// `host:port` of the RPC service serving beside this instance, if any; announced to
    /// clients and to the cluster.
    pub rpc_endpoint: Option<String>,
    /// Connections open on that RPC service, counted by it.
    pub rpc_connections: Option<Arc<AtomicUsize>>,
    /// Where to spill cold blobs (none: spilling is off).
    pub spill_path: Option<PathBuf>,
    /// Spilling goes on until memory use is under this share of `size` (`--spill_lower_rate`).
    pub spill_lower_rate: f64,
    /// Memory use above this share of `size` starts spilling (`--spill_upper_rate`).
    pub spill_upper_rate: f64,
    /// A snapshot to load at start (`--restore_from`; see [`crate::server::Restorer`]).
    pub restore_from: Option<String>,
    /// Fault in all of the shared memory at start-up, in the background.
    pub reserve_memory: bool,
    /// This instance's id.
    pub instance_id: InstanceID,
    /// Bounds on metadata.
    pub limits: Limits,
    /// The largest request a client may send (`--max_request_size`).
    pub max_request_size: u64,
    /// Bytes of requests read from all clients at once (`--max_request_memory`): a large
    /// request that would go past it is refused instead of buffered.
    pub max_request_memory: u64,
}

/// Default of `--spill_lower_rate` (Vineyard's).
pub const DEFAULT_SPILL_LOWER_RATE: f64 = 0.3;

/// Default of `--spill_upper_rate` (Vineyard's).
pub const DEFAULT_SPILL_UPPER_RATE: f64 = 0.8;

/// Default of `--max_request_size`.
pub const DEFAULT_MAX_REQUEST_SIZE: u64 = 64 << 20;

/// Default of `--max_request_memory`.
pub const DEFAULT_MAX_REQUEST_MEMORY: u64 = 256 << 20;

impl ServerConfig {
    /// Defaults for a single local instance on `socket` with `size` bytes.
    pub fn local(socket: impl Into<PathBuf>, size: u64) -> ServerConfig {
        ServerConfig {
            socket: socket.into(),
            socket_mode: DEFAULT_SOCKET_MODE,
            size,
            meta: MetaBackend::Local,
            etcd_endpoint: "http://127.0.0.1:2379".into(),
            etcd_prefix: "vineyard".into(),
            etcd_cmd: None,
            rpc_socket_port: 9600,
            rpc_endpoint: None,
            rpc_connections: None,
            spill_path: None,
            spill_lower_rate: DEFAULT_SPILL_LOWER_RATE,
            spill_upper_rate: DEFAULT_SPILL_UPPER_RATE,
            restore_from: None,
            reserve_memory: true,
            instance_id: 0,
            limits: Limits::default(),
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            max_request_memory: DEFAULT_MAX_REQUEST_MEMORY,
        }
    }
}
