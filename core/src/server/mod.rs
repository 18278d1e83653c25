//! `vineyardd`: the IPC server over a UNIX socket (tokio, one task per connection).

mod accept;
pub mod cli;
mod config;
mod connection;
mod frames;
mod handler;
mod progress;
mod restore;
pub mod rpc;
mod socket;
mod spill;

mod events;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::{Map, Value};
use tokio::net::UnixListener;
use tokio::sync::{broadcast, Notify};

pub use config::{MetaBackend, ServerConfig, DEFAULT_SOCKET_MODE};
pub use restore::Restorer;
pub use rpc::{RpcOptions, RpcService};
pub use spill::Spiller;

use crate::cluster::{
    find_or_start_etcd, ClusterEvent, EtcdMetaStore, InstanceInfo, LocalMetaStore, MetaStore,
};
use crate::error::{Error, Result};
use crate::id::{InstanceID, ObjectID};
use crate::protocol::reply::InstanceInfoReply;
use crate::protocol::InstanceStatus;
use crate::store::Arena;
use crate::table::{ConnectionId, Created, Deleted, ObjectTable};

/// State shared by every connection of one server.
pub struct Shared {
    config: ServerConfig,
    table: Mutex<ObjectTable>,
    /// Woken whenever objects, names or connections change (for `wait: true` requests).
    changed: Notify,
    /// Requests parked until what they wait for exists.
    deferred: AtomicUsize,
    cluster: Arc<dyn MetaStore>,
    /// Live instances of the cluster, this one included.
    instances: Mutex<BTreeMap<InstanceID, InstanceInfo>>,
    /// Which connections have requests not handled yet.
    progress: progress::ProgressBoard,
    /// Bytes of large requests being read, against `--max_request_memory`.
    request_memory: Arc<frames::RequestMemory>,
    /// Spills cold blobs to `--spill_path` (none without it).
    spill: Option<Arc<Spiller>>,
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

    /// Stores a tree (as `assigned`, an id its connection reserved, if given); members only
    /// the cluster knows are fetched first, and a tree whose members span instances is
    /// published at once (it is global).
    async fn create_data(
        &self,
        tree: &Map<String, Value>,
        assigned: Option<(ConnectionId, ObjectID)>,
    ) -> Result<Created> {
        let unknown = self.table().unknown_members(tree);
        self.fetch_from_cluster(&unknown).await;
        let created = self.table().create_data(tree.clone(), assigned)?;
        if !created.publish.is_empty() {
            if let Err(error) = self.cluster.publish(created.publish.clone()).await {
                let _ = self.table().delete(&[created.id], false, false, false);
                return Err(error);
            }
        }
        Ok(created)
    }

    /// Reads objects this instance has not heard of yet straight from the cluster (a persist
    /// elsewhere may be younger than the watch event announcing it).
    async fn fetch_missing(&self, ids: &[ObjectID]) {
        let missing: Vec<ObjectID> = {
            let table = self.table();
            ids.iter()
                .copied()
                .filter(|&id| !id.is_blob() && !table.exists(id))
                .collect()
        };
        self.fetch_from_cluster(&missing).await;
    }

    async fn fetch_from_cluster(&self, ids: &[ObjectID]) {
        for &id in ids {
            if let Ok(Some(object)) = self.cluster.fetch(id).await {
                self.table().add_remote(id, object.owner, object.tree);
            }
        }
    }

    /// Persists locally, then publishes; a failed publication is undone.
    async fn persist(&self, id: ObjectID) -> Result<()> {
        let published = self.table().persist(id)?;
        if published.is_empty() {
            return Ok(());
        }
        let ids: Vec<ObjectID> = published.iter().map(|(id, _)| *id).collect();
        if let Err(error) = self.cluster.publish(published).await {
            self.table().unpersist(&ids);
            return Err(error);
        }
        Ok(())
    }

    /// Withdraws what a local deletion removed (and remote objects asked for) from the cluster.
    async fn withdraw(&self, deleted: &Deleted) -> Result<()> {
        let mut ids = deleted.persisted.clone();
        ids.extend(&deleted.remote);
        if !ids.is_empty() {
            self.cluster.withdraw(ids).await?;
        }
        for name in &deleted.names {
            self.cluster.drop_name(name).await?;
        }
        Ok(())
    }

    async fn put_name(&self, id: ObjectID, name: &str) -> Result<()> {
        self.table().put_name(id, name)?;
        if let Err(error) = self.cluster.put_name(name, id).await {
            self.table().drop_name(name);
            return Err(error);
        }
        Ok(())
    }

    /// The object a name points at; a name this instance has not heard of yet is read from
    /// the cluster (a put_name elsewhere may be younger than the watch event announcing it).
    async fn get_name(&self, name: &str) -> Option<ObjectID> {
        if let Some(id) = self.table().get_name(name) {
            return Some(id);
        }
        let id = self.cluster.fetch_name(name).await.ok().flatten()?;
        self.table().set_name(name.to_string(), id);
        Some(id)
    }

    async fn drop_name(&self, name: &str) -> Result<()> {
        self.table().drop_name(name);
        self.cluster.drop_name(name).await
    }

    fn instances(&self) -> MutexGuard<'_, BTreeMap<InstanceID, InstanceInfo>> {
        self.instances
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn rpc_endpoint(&self) -> String {
        // Vineyard's clients read "0.0.0.0:0" as "no RPC".
        self.config
            .rpc_endpoint
            .clone()
            .unwrap_or_else(|| "0.0.0.0:0".to_string())
    }

    /// Runs `create` (which allocates `size` bytes, or several sizes) on the table; when
    /// the store is full and spilling is on, makes room and tries again. Above the upper
    /// spill rate, spills down to the lower rate before returning.
    async fn with_room<T>(
        &self,
        mut create: impl FnMut(&mut ObjectTable) -> Result<T>,
    ) -> Result<T> {
        let Some(spill) = &self.spill else {
            return create(&mut self.table());
        };
        // Each retry follows a round that made room; others may take it first.
        let mut attempts = 0;
        let created = loop {
            let result = create(&mut self.table());
            match result {
                Err(Error::NotEnoughMemory { requested, .. }) if attempts < 4 => {
                    attempts += 1;
                    spill.make_room(self, requested).await?;
                }
                other => break other?,
            }
        };
        if let Err(error) = spill.make_room(self, 0).await {
            tracing::warn!(%error, "memory use is above --spill_upper_rate");
        }
        Ok(created)
    }

    /// Runs `read` on the table once the blobs `ids` are all in memory (spilled ones are read
    /// back first).
    async fn with_blobs_in_memory<T>(
        &self,
        ids: &[ObjectID],
        mut read: impl FnMut(&mut ObjectTable) -> Result<T>,
    ) -> Result<T> {
        let Some(spill) = &self.spill else {
            return read(&mut self.table());
        };
        loop {
            let held = spill.bring_back(self, ids).await?;
            let mut table = self.table();
            // A round may have taken blobs this call did not hold meanwhile: look again.
            if table.not_in_memory(ids).is_empty() {
                let result = read(&mut table);
                for id in held {
                    table.drop_holder(id);
                }
                return result;
            }
            for id in held {
                table.drop_holder(id);
            }
        }
    }

    /// The spiller, or the error for requests that need one.
    fn spiller(&self) -> Result<&Arc<Spiller>> {
        self.spill.as_ref().ok_or_else(|| {
            Error::invalid(
                "spilling is off on this instance: start it with --spill_path DIR to spill \
                 cold blobs to DIR",
            )
        })
    }

    fn status(&self) -> InstanceStatus {
        let table = self.table();
        let spilled = table.spill_status();
        InstanceStatus {
            instance_id: self.instance_id(),
            deployment: self.cluster.describe(),
            memory_usage: table.memory_usage(),
            memory_limit: table.memory_limit(),
            deferred_requests: self.deferred.load(Ordering::Relaxed) as u64,
            ipc_connections: table.connection_count() as u64,
            rpc_connections: self
                .config
                .rpc_connections
                .as_ref()
                .map_or(0, |open| open.load(Ordering::Relaxed) as u64),
            metadata_usage: table.metadata_usage(),
            metadata_limit: table.metadata_limit(),
            spilled_bytes: spilled.spilled_bytes,
            spilled_blobs: spilled.spilled_blobs,
            spilled_total_bytes: spilled.spilled_total_bytes,
            reloaded_total_bytes: spilled.reloaded_total_bytes,
        }
    }

    fn cluster_meta(&self) -> BTreeMap<String, InstanceInfoReply> {
        self.instances()
            .values()
            .map(|info| {
                (
                    format!("i{}", info.instance_id),
                    InstanceInfoReply {
                        hostid: info.instance_id,
                        hostname: info.hostname.clone(),
                        nodename: info.hostname.clone(),
                        ipc_socket: info.ipc_socket.clone(),
                        rpc_endpoint: info.rpc_endpoint.clone(),
                        timestamp: info.timestamp,
                    },
                )
            })
            .collect()
    }
}

/// A server bound to its socket, ready to serve.
pub struct Server {
    shared: Arc<Shared>,
    listener: UnixListener,
    /// Where the listener is bound: the socket, or a private path beside it while a
    /// `--restore_from` snapshot loads.
    listening: PathBuf,
    events: broadcast::Receiver<ClusterEvent>,
    restorer: Option<Arc<dyn Restorer>>,
}

impl Server {
    /// Starts a single instance with in-process metadata: creates the shared memory and binds
    /// the socket. Fails with a clear message if the socket is taken or unusable.
    pub async fn bind(config: ServerConfig) -> Result<Server> {
        Server::bind_with(config, Arc::new(LocalMetaStore::new())).await
    }

    /// Starts an instance with the metadata backend its configuration names: `local`, `etcd`
    /// (which must answer), or `auto` (use etcd if one answers or can be started on this
    /// machine, otherwise run alone).
    pub async fn start(config: ServerConfig) -> Result<Server> {
        // Fail on an unusable socket before starting or joining anything.
        socket::check_available(&config.socket)?;
        let cluster: Arc<dyn MetaStore> = match config.meta {
            MetaBackend::Local => Arc::new(LocalMetaStore::new()),
            MetaBackend::Etcd => {
                Arc::new(EtcdMetaStore::connect(&config.etcd_endpoint, &config.etcd_prefix).await?)
            }
            MetaBackend::Auto => {
                let launched =
                    find_or_start_etcd(&config.etcd_endpoint, config.etcd_cmd.as_deref()).await;
                let connected = match launched {
                    Ok(_) => {
                        EtcdMetaStore::connect(&config.etcd_endpoint, &config.etcd_prefix).await
                    }
                    Err(error) => Err(error),
                };
                match connected {
                    Ok(store) => Arc::new(store),
                    Err(error) => {
                        tracing::warn!("{error}; running alone with local metadata");
                        Arc::new(LocalMetaStore::new())
                    }
                }
            }
        };
        Server::bind_with(config, cluster).await
    }

    /// Starts an instance that shares metadata through `cluster`.
    pub async fn bind_with(
        mut config: ServerConfig,
        cluster: Arc<dyn MetaStore>,
    ) -> Result<Server> {
        if config.size == 0 {
            return Err(Error::invalid(
                "--size must be larger than 0, e.g. --size 256Mi",
            ));
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
        socket::check_available(&config.socket)?;
        let events = cluster.subscribe();
        let info = InstanceInfo {
            instance_id: 0,
            hostname: hostname(),
            ipc_socket: config.socket.display().to_string(),
            rpc_endpoint: config
                .rpc_endpoint
                .clone()
                .unwrap_or_else(|| "0.0.0.0:0".into()),
            timestamp: crate::id::now_millis(),
        };
        let instance_id = cluster.join(info).await?;
        let listening = match config.restore_from {
            Some(_) => restore::restoring_path(&config.socket),
            None => config.socket.clone(),
        };
        // Bound only once joined: a client that finds the socket finds a registered instance.
        let listener = match socket::bind(&listening, config.socket_mode) {
            Ok(listener) => listener,
            Err(error) => {
                cluster.leave().await;
                return Err(error);
            }
        };
        config.instance_id = instance_id;
        let view = cluster.view().await?;
        let mut table = ObjectTable::with_limits(instance_id, arena, config.limits.clone());
        let spill = match &config.spill_path {
            Some(path) => match Spiller::open(
                path,
                instance_id,
                config.spill_lower_rate,
                config.spill_upper_rate,
                &mut table,
            ) {
                Ok(spiller) => Some(spiller),
                Err(error) => {
                    cluster.leave().await;
                    let _ = std::fs::remove_file(&listening);
                    return Err(error);
                }
            },
            None => None,
        };
        let shared = Arc::new(Shared {
            table: Mutex::new(table),
            spill,
            changed: Notify::new(),
            deferred: AtomicUsize::new(0),
            cluster,
            instances: Mutex::new(BTreeMap::new()),
            progress: progress::ProgressBoard::default(),
            request_memory: frames::RequestMemory::new(config.max_request_memory),
            config,
        });
        shared.apply(ClusterEvent::Resynced(Box::new(view)));
        Ok(Server {
            shared,
            listener,
            listening,
            events,
            restorer: None,
        })
    }

    /// Plugs in what loads a `--restore_from` snapshot (without one, such a server fails to
    /// start, saying so).
    pub fn with_restorer(mut self, restorer: Option<Arc<dyn Restorer>>) -> Server {
        self.restorer = restorer;
        self
    }

    /// The state shared by the connections (for embedding and tests).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Serves IPC, and `rpc` beside it (bound with [`rpc::bind_rpc`]), until `shutdown`
    /// completes; then stops the RPC service and removes the socket file.
    pub async fn serve_with(
        self,
        rpc: Option<Box<dyn RpcService>>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rpc_task = rpc.map(|service| {
            tokio::spawn(service.serve(
                self.shared.config.socket.clone(),
                Box::pin(async move {
                    let _ = stopped.await;
                }),
            ))
        });
        let served = self.serve(shutdown).await;
        let _ = stop.send(());
        if let Some(task) = rpc_task {
            match task.await {
                Ok(Err(error)) => tracing::warn!(%error, "the RPC service failed"),
                Err(error) => tracing::warn!(%error, "the RPC service panicked"),
                Ok(Ok(())) => {}
            }
        }
        served
    }

    /// Serves until `shutdown` completes, then removes the socket file.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let Server {
            shared,
            listener,
            listening,
            events,
            restorer,
        } = self;
        let started = Instant::now();
        let ready = || {
            tracing::info!(
                socket = %shared.config.socket.display(),
                size = shared.config.size,
                instance_id = shared.config.instance_id,
                metadata = %shared.cluster.describe(),
                "vineyard is ready"
            )
        };
        let mut restoring = match &shared.config.restore_from {
            Some(url) => Some(tokio::spawn(restore::run(
                restorer,
                listening.clone(),
                shared.config.socket.clone(),
                url.clone(),
            ))),
            None => {
                ready();
                None
            }
        };
        let follower = tokio::spawn(events::follow(Arc::clone(&shared), events));
        tokio::pin!(shutdown);
        let mut connections = tokio::task::JoinSet::new();
        let mut acceptor = accept::Acceptor::new(listener)?;
        let mut outcome = Ok(());
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                restored = async { restoring.as_mut().expect("guarded").await },
                    if restoring.is_some() =>
                {
                    restoring = None;
                    match restored {
                        Ok(Ok(())) => ready(),
                        Ok(Err(error)) => {
                            outcome = Err(error);
                            break;
                        }
                        Err(error) => {
                            outcome = Err(Error::invalid(format!("the restore failed: {error}")));
                            break;
                        }
                    }
                }
                stream = acceptor.accept() => {
                    connections.spawn(connection::serve(Arc::clone(&shared), stream));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
        follower.abort();
        shared.cluster.leave().await;
        if let Some(spill) = &shared.spill {
            spill.remove_all();
        }
        let _ = std::fs::remove_file(&shared.config.socket);
        if listening != shared.config.socket {
            let _ = std::fs::remove_file(&listening);
        }
        if let Some(restore) = restoring {
            restore.abort();
        }
        tracing::info!(
            uptime_s = started.elapsed().as_secs(),
            "vineyard stopped; socket removed"
        );
        outcome
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
