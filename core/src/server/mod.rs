//! `vineyardd`: the IPC server over a UNIX socket (tokio, one task per connection).

pub mod cli;
mod config;
mod connection;
mod handler;
mod socket;

use std::future::Future;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::{json, Value};
use tokio::net::UnixListener;
use tokio::sync::Notify;

pub use config::{MetaBackend, ServerConfig};

use crate::error::{Error, Result};
use crate::id::InstanceID;
use crate::store::Arena;
use crate::table::ObjectTable;

/// State shared by every connection of one server.
pub struct Shared {
    config: ServerConfig,
    table: Mutex<ObjectTable>,
    /// Woken whenever objects, names or connections change (for `wait: true` requests).
    changed: Notify,
    /// Requests parked until what they wait for exists.
    deferred: AtomicUsize,
    hostname: String,
}

impl Shared {
    /// Locks the object table. The lock is never held across I/O.
    pub fn table(&self) -> MutexGuard<'_, ObjectTable> {
        self.table
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn instance_id(&self) -> InstanceID {
        self.config.instance_id
    }

    fn rpc_endpoint(&self) -> String {
        // No RPC service runs yet; Vineyard's clients read this as "no RPC".
        "0.0.0.0:0".to_string()
    }

    fn status(&self) -> Value {
        let table = self.table();
        json!({
            "instance_id": self.instance_id(),
            "deployment": "local",
            "memory_usage": table.memory_usage(),
            "memory_limit": table.memory_limit(),
            "deferred_requests": self.deferred.load(std::sync::atomic::Ordering::Relaxed),
            "ipc_connections": table.connection_count(),
            "rpc_connections": 0,
        })
    }

    fn cluster_meta(&self) -> Value {
        let mut meta = serde_json::Map::new();
        meta.insert(
            format!("i{}", self.instance_id()),
            json!({
                "hostid": self.instance_id(),
                "hostname": self.hostname,
                "nodename": self.hostname,
                "ipc_socket": self.config.socket.display().to_string(),
                "rpc_endpoint": self.rpc_endpoint(),
                "timestamp": crate::id::now_millis(),
            }),
        );
        Value::Object(meta)
    }
}

/// A server bound to its socket, ready to serve.
pub struct Server {
    shared: Arc<Shared>,
    listener: UnixListener,
}

impl Server {
    /// Creates the shared memory and binds the socket. Fails with a clear message if the
    /// socket is taken or unusable, or the memory cannot be created.
    pub fn bind(config: ServerConfig) -> Result<Server> {
        if config.meta == MetaBackend::Etcd {
            return Err(Error::NotImplemented {
                what: "the etcd metadata backend is not in this build yet; start with \
                       --meta local"
                    .into(),
            });
        }
        if config.size == 0 {
            return Err(Error::invalid(
                "--size must be larger than 0, e.g. --size 256Mi",
            ));
        }
        if let Some(path) = &config.spill_path {
            tracing::warn!(spill_path = %path.display(), "spilling is not implemented yet; --spill_path is ignored");
        }
        let arena = Arc::new(Arena::create(config.size).map_err(|error| {
            Error::invalid(format!(
                "cannot create {} bytes of shared memory: {error}; choose a smaller --size",
                config.size
            ))
        })?);
        if config.reserve_memory {
            arena.prefault_in_background();
        }
        let listener = socket::bind(&config.socket)?;
        let shared = Arc::new(Shared {
            table: Mutex::new(ObjectTable::new(config.instance_id, arena)),
            changed: Notify::new(),
            deferred: AtomicUsize::new(0),
            hostname: hostname(),
            config,
        });
        Ok(Server { shared, listener })
    }

    /// The state shared by the connections (for embedding and tests).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Serves until `shutdown` completes, then removes the socket file.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let Server { shared, listener } = self;
        let started = Instant::now();
        tracing::info!(
            socket = %shared.config.socket.display(),
            size = shared.config.size,
            instance_id = shared.config.instance_id,
            "vineyard is ready (metadata: local, this instance runs alone)"
        );
        tokio::pin!(shutdown);
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(connection::serve(Arc::clone(&shared), stream));
                    }
                    Err(error) => tracing::warn!(%error, "accept failed"),
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
        let _ = std::fs::remove_file(&shared.config.socket);
        tracing::info!(
            uptime_s = started.elapsed().as_secs(),
            "vineyard stopped; socket removed"
        );
        Ok(())
    }
}

fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its full length; gethostname NUL-terminates on success.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return "localhost".into();
    }
    let end = buffer
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}
