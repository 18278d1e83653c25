//! The etcd backend: records under `<prefix>/`, owned records on this instance's lease, a
//! watch that keeps every instance's view current, and a supervisor that reconnects,
//! re-registers, republishes and re-syncs when etcd comes back.
//!
//! Keys: `instances/<id>` (InstanceInfo), `objects/o<hex>` (PublishedObject),
//! `names/<name>` (decimal id), `instance_counter` (next instance id).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions, Txn, TxnOp,
    WatchOptions,
};
use serde_json::{Map, Value};
use tokio::sync::{broadcast, mpsc, oneshot, Notify};

use super::{ClusterEvent, ClusterView, InstanceInfo, MetaStore, PublishedObject};
use crate::error::{Error, Result};
use crate::id::{InstanceID, ObjectID};

/// Seconds an instance's records outlive its last keep-alive.
const LEASE_TTL_SECONDS: i64 = 5;
/// etcd's default limit of operations in one transaction.
const MAX_TXN_OPS: usize = 128;
/// How long one etcd call may take before the operation fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Cluster metadata in etcd.
pub struct EtcdMetaStore {
    inner: Arc<Inner>,
    commits: mpsc::UnboundedSender<Commit>,
}

/// One key to write (`Some(value)`) or delete (`None`) in a group commit.
struct Write {
    key: String,
    value: Option<String>,
}

/// Writes that one caller waits for; concurrent commits share transactions.
struct Commit {
    writes: Vec<Write>,
    done: oneshot::Sender<std::result::Result<(), String>>,
}

struct Inner {
    endpoint: String,
    prefix: String,
    client: Mutex<Client>,
    lease: AtomicI64,
    available: AtomicBool,
    /// This instance's registration, once joined.
    info: Mutex<Option<InstanceInfo>>,
    /// Records this instance owns (key → value), republished after a reconnect.
    owned: Mutex<BTreeMap<String, String>>,
    events: broadcast::Sender<ClusterEvent>,
    /// Set when the store is dropped: the supervisor stops.
    stop: Notify,
    stopped: AtomicBool,
}

fn unreachable(endpoint: &str, error: impl std::fmt::Display) -> Error {
    Error::Cluster {
        message: format!("etcd at {endpoint}: {error}"),
    }
}

async fn connect_client(endpoint: &str) -> Result<Client> {
    let options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_millis(800))
        .with_timeout(REQUEST_TIMEOUT)
        .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2));
    let mut client = Client::connect([endpoint], Some(options))
        .await
        .map_err(|error| unreachable(endpoint, error))?;
    // `connect` is lazy about some failures: one round trip proves the server answers.
    client
        .status()
        .await
        .map_err(|error| unreachable(endpoint, error))?;
    Ok(client)
}

impl EtcdMetaStore {
    /// Connects to etcd at `endpoint` (e.g. `http://127.0.0.1:2379`); fails fast if it does
    /// not answer.
    pub async fn connect(endpoint: &str, prefix: &str) -> Result<EtcdMetaStore> {
        let client = connect_client(endpoint).await?;
        let inner = Arc::new(Inner {
            endpoint: endpoint.to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
            client: Mutex::new(client),
            lease: AtomicI64::new(0),
            available: AtomicBool::new(true),
            info: Mutex::new(None),
            owned: Mutex::new(BTreeMap::new()),
            events: broadcast::channel(65536).0,
            stop: Notify::new(),
            stopped: AtomicBool::new(false),
        });
        let (commits, queue) = mpsc::unbounded_channel();
        tokio::spawn(Arc::clone(&inner).commit_loop(queue));
        Ok(EtcdMetaStore { inner, commits })
    }

    /// Queues writes for the next group commit and waits until they are committed.
    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        // Fail fast rather than queue behind an unreachable etcd.
        self.inner.client()?;
        let (done, committed) = oneshot::channel();
        self.commits
            .send(Commit { writes, done })
            .map_err(|_| unreachable(&self.inner.endpoint, "the store is shut down"))?;
        committed
            .await
            .map_err(|_| unreachable(&self.inner.endpoint, "the commit was dropped"))?
            .map_err(|message| Error::Cluster { message })
    }

    /// Writes records owned by this instance (kept for republishing after a reconnect).
    async fn put_owned(&self, records: Vec<(String, String)>) -> Result<()> {
        self.inner
            .owned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(records.iter().cloned());
        let writes = records
            .into_iter()
            .map(|(key, value)| Write {
                key,
                value: Some(value),
            })
            .collect();
        self.commit(writes).await
    }

    /// Deletes keys (and forgets them as owned, so that a reconnect does not revive them).
    async fn delete_keys(&self, keys: Vec<String>) -> Result<()> {
        {
            let mut owned = self.inner.owned.lock().unwrap_or_else(|p| p.into_inner());
            for key in &keys {
                owned.remove(key);
            }
        }
        let writes = keys
            .into_iter()
            .map(|key| Write { key, value: None })
            .collect();
        self.commit(writes).await
    }
}

impl Drop for EtcdMetaStore {
    fn drop(&mut self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.stop.notify_waiters();
    }
}

impl Inner {
    fn key(&self, suffix: &str) -> String {
        format!("{}/{suffix}", self.prefix)
    }

    fn object_key(&self, id: ObjectID) -> String {
        self.key(&format!("objects/{id}"))
    }

    fn client(&self) -> Result<Client> {
        if !self.available.load(Ordering::SeqCst) {
            return Err(unreachable(&self.endpoint, "not reachable right now"));
        }
        Ok(self
            .client
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }

    fn fail(&self, error: etcd_client::Error) -> Error {
        unreachable(&self.endpoint, error)
    }

    /// Commits queued writes: everything that queued while the previous transaction was in
    /// flight goes into the next one (up to etcd's operation limit), so concurrent persists
    /// share round trips. The last write of a key wins.
    async fn commit_loop(self: Arc<Self>, mut queue: mpsc::UnboundedReceiver<Commit>) {
        while let Some(first) = queue.recv().await {
            let mut batch = vec![first];
            let mut count = batch[0].writes.len();
            while count < MAX_TXN_OPS {
                match queue.try_recv() {
                    Ok(commit) => {
                        count += commit.writes.len();
                        batch.push(commit);
                    }
                    Err(_) => break,
                }
            }
            let mut latest: BTreeMap<String, Option<String>> = BTreeMap::new();
            for commit in &mut batch {
                for write in commit.writes.drain(..) {
                    latest.insert(write.key, write.value);
                }
            }
            let result = self.write(latest).await.map_err(|error| error.to_string());
            for commit in batch {
                let _ = commit.done.send(result.clone());
            }
        }
    }

    async fn write(&self, writes: BTreeMap<String, Option<String>>) -> Result<()> {
        let mut client = self.client()?;
        let lease = self.lease.load(Ordering::SeqCst);
        let operations: Vec<TxnOp> = writes
            .into_iter()
            .map(|(key, value)| match value {
                Some(value) => TxnOp::put(key, value, Some(PutOptions::new().with_lease(lease))),
                None => TxnOp::delete(key, None),
            })
            .collect();
        for chunk in operations.chunks(MAX_TXN_OPS) {
            client
                .txn(Txn::new().and_then(chunk.to_vec()))
                .await
                .map_err(|error| self.fail(error))?;
        }
        Ok(())
    }

    async fn allocate_instance_id(&self, client: &mut Client) -> Result<InstanceID> {
        let key = self.key("instance_counter");
        loop {
            let current = client
                .get(key.as_str(), None)
                .await
                .map_err(|error| self.fail(error))?;
            let (next, guard) = match current.kvs().first() {
                None => (0, Compare::version(key.as_str(), CompareOp::Equal, 0)),
                Some(kv) => {
                    let value = kv.value_str().unwrap_or("0").parse::<u64>().unwrap_or(0);
                    let guard =
                        Compare::mod_revision(key.as_str(), CompareOp::Equal, kv.mod_revision());
                    (value, guard)
                }
            };
            let claimed = client
                .txn(Txn::new().when([guard]).and_then([TxnOp::put(
                    key.as_str(),
                    (next + 1).to_string(),
                    None,
                )]))
                .await
                .map_err(|error| self.fail(error))?;
            if claimed.succeeded() {
                return Ok(next);
            }
        }
    }

    /// Grants a fresh lease and (re)writes every owned record, the registration included.
    async fn open_session(&self, client: &mut Client) -> Result<()> {
        let lease = client
            .lease_grant(LEASE_TTL_SECONDS, None)
            .await
            .map_err(|error| self.fail(error))?
            .id();
        self.lease.store(lease, Ordering::SeqCst);
        let records: Vec<(String, String)> = self
            .owned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        for chunk in records.chunks(MAX_TXN_OPS) {
            let operations: Vec<TxnOp> = chunk
                .iter()
                .map(|(key, value)| {
                    TxnOp::put(
                        key.as_str(),
                        value.as_str(),
                        Some(PutOptions::new().with_lease(lease)),
                    )
                })
                .collect();
            client
                .txn(Txn::new().and_then(operations))
                .await
                .map_err(|error| self.fail(error))?;
        }
        Ok(())
    }

    /// Reads the whole view and the revision it was read at.
    async fn read_view(&self, client: &mut Client) -> Result<(ClusterView, i64)> {
        let response = client
            .get(self.key(""), Some(GetOptions::new().with_prefix()))
            .await
            .map_err(|error| self.fail(error))?;
        let revision = response
            .header()
            .map(|header| header.revision())
            .unwrap_or(0);
        let mut view = ClusterView::default();
        for kv in response.kvs() {
            let (Ok(key), Ok(value)) = (kv.key_str(), kv.value_str()) else {
                continue;
            };
            match self.decode(key, Some(value)) {
                Some(ClusterEvent::ObjectPublished(id, object)) => {
                    view.objects.insert(id, object);
                }
                Some(ClusterEvent::NamePut(name, id)) => {
                    view.names.insert(name, id);
                }
                Some(ClusterEvent::InstanceUp(info)) => {
                    view.instances.insert(info.instance_id, info);
                }
                _ => {}
            }
        }
        Ok((view, revision))
    }

    /// Turns a key (and its value, `None` for a deletion) into an event.
    fn decode(&self, key: &str, value: Option<&str>) -> Option<ClusterEvent> {
        let suffix = key.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let (kind, name) = suffix.split_once('/')?;
        match (kind, value) {
            ("objects", Some(value)) => Some(ClusterEvent::ObjectPublished(
                name.parse().ok()?,
                serde_json::from_str(value).ok()?,
            )),
            ("objects", None) => Some(ClusterEvent::ObjectWithdrawn(name.parse().ok()?)),
            ("names", Some(value)) => Some(ClusterEvent::NamePut(
                name.to_string(),
                ObjectID(value.parse().ok()?),
            )),
            ("names", None) => Some(ClusterEvent::NameDropped(name.to_string())),
            ("instances", Some(value)) => {
                Some(ClusterEvent::InstanceUp(serde_json::from_str(value).ok()?))
            }
            ("instances", None) => Some(ClusterEvent::InstanceDown(name.parse().ok()?)),
            _ => None,
        }
    }

    /// Keeps the lease alive and forwards watch events until something breaks.
    async fn follow(&self, client: &mut Client, revision: i64) -> Result<()> {
        let lease = self.lease.load(Ordering::SeqCst);
        let (mut keeper, mut keep_alive_replies) = client
            .lease_keep_alive(lease)
            .await
            .map_err(|error| self.fail(error))?;
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision + 1);
        let mut watch = client
            .watch(self.key(""), Some(options))
            .await
            .map_err(|error| self.fail(error))?;
        let mut tick =
            tokio::time::interval(Duration::from_millis(LEASE_TTL_SECONDS as u64 * 1000 / 4));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    keeper.keep_alive().await.map_err(|error| self.fail(error))?;
                    let reply = tokio::time::timeout(REQUEST_TIMEOUT, keep_alive_replies.message())
                        .await
                        .map_err(|_| unreachable(&self.endpoint, "keep-alive timed out"))?
                        .map_err(|error| self.fail(error))?;
                    if reply.is_none_or(|reply| reply.ttl() <= 0) {
                        return Err(unreachable(&self.endpoint, "the instance's lease expired"));
                    }
                }
                message = watch.message() => {
                    let Some(response) = message.map_err(|error| self.fail(error))? else {
                        return Err(unreachable(&self.endpoint, "the watch ended"));
                    };
                    if response.canceled() {
                        return Err(unreachable(&self.endpoint, response.cancel_reason()));
                    }
                    for event in response.events() {
                        let Some(kv) = event.kv() else { continue };
                        let Ok(key) = kv.key_str() else { continue };
                        let value = match event.event_type() {
                            EventType::Put => kv.value_str().ok(),
                            EventType::Delete => None,
                        };
                        if let Some(event) = self.decode(key, value) {
                            let _ = self.events.send(event);
                        }
                    }
                }
            }
        }
    }

    /// Follows the cluster for as long as the store lives, reconnecting after failures.
    async fn supervise(self: Arc<Self>, first_revision: i64) {
        let mut revision = Some(first_revision);
        let mut delay = Duration::from_millis(100);
        loop {
            let stop = self.stop.notified();
            tokio::pin!(stop);
            stop.as_mut().enable();
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            if let Some(from) = revision.take() {
                let mut client = self
                    .client
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                tokio::select! {
                    _ = &mut stop => return,
                    followed = self.follow(&mut client, from) => {
                        if let Err(error) = followed {
                            self.available.store(false, Ordering::SeqCst);
                            tracing::warn!(%error, "lost the cluster metadata service; retrying");
                        }
                    }
                }
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(delay) => {}
            }
            match self.reconnect().await {
                Ok(from) => {
                    tracing::info!(endpoint = %self.endpoint, "reconnected to etcd; re-registered and re-synced");
                    delay = Duration::from_millis(100);
                    revision = Some(from);
                }
                Err(error) => {
                    tracing::debug!(%error, "etcd still unreachable");
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    async fn reconnect(&self) -> Result<i64> {
        let mut client = connect_client(&self.endpoint).await?;
        self.open_session(&mut client).await?;
        let (view, revision) = self.read_view(&mut client).await?;
        *self.client.lock().unwrap_or_else(|p| p.into_inner()) = client;
        self.available.store(true, Ordering::SeqCst);
        let _ = self.events.send(ClusterEvent::Resynced(Box::new(view)));
        Ok(revision)
    }
}

#[async_trait]
impl MetaStore for EtcdMetaStore {
    async fn join(&self, mut info: InstanceInfo) -> Result<InstanceID> {
        let inner = &self.inner;
        let mut client = inner.client()?;
        info.instance_id = inner.allocate_instance_id(&mut client).await?;
        let key = inner.key(&format!("instances/{}", info.instance_id));
        let value = serde_json::to_string(&info).expect("instance info serialises");
        inner
            .owned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, value);
        inner.open_session(&mut client).await?;
        *inner.info.lock().unwrap_or_else(|p| p.into_inner()) = Some(info.clone());
        let (_, revision) = inner.read_view(&mut client).await?;
        tokio::spawn(Arc::clone(inner).supervise(revision));
        Ok(info.instance_id)
    }

    async fn publish(&self, objects: Vec<(ObjectID, Map<String, Value>)>) -> Result<()> {
        let owner = self
            .inner
            .info
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|info| info.instance_id)
            .ok_or_else(|| Error::invalid("publish before joining the cluster"))?;
        let records = objects
            .into_iter()
            .map(|(id, tree)| {
                let value = serde_json::to_string(&PublishedObject { owner, tree })
                    .expect("metadata serialises");
                (self.inner.object_key(id), value)
            })
            .collect();
        self.put_owned(records).await
    }

    async fn withdraw(&self, ids: Vec<ObjectID>) -> Result<()> {
        let keys = ids
            .into_iter()
            .map(|id| self.inner.object_key(id))
            .collect();
        self.delete_keys(keys).await
    }

    async fn put_name(&self, name: &str, id: ObjectID) -> Result<()> {
        let key = self.inner.key(&format!("names/{name}"));
        self.put_owned(vec![(key, id.0.to_string())]).await
    }

    async fn drop_name(&self, name: &str) -> Result<()> {
        let key = self.inner.key(&format!("names/{name}"));
        self.delete_keys(vec![key]).await
    }

    async fn leave(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.stop.notify_waiters();
        let lease = self.inner.lease.load(Ordering::SeqCst);
        let mut client = self
            .inner
            .client
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Err(error) = client.lease_revoke(lease).await {
            tracing::debug!(%error, "could not revoke the lease; records expire with it");
        }
    }

    async fn fetch(&self, id: ObjectID) -> Result<Option<PublishedObject>> {
        let mut client = self.inner.client()?;
        let response = client
            .get(self.inner.object_key(id), None)
            .await
            .map_err(|error| self.inner.fail(error))?;
        Ok(response
            .kvs()
            .first()
            .and_then(|kv| serde_json::from_str(kv.value_str().ok()?).ok()))
    }

    async fn fetch_name(&self, name: &str) -> Result<Option<ObjectID>> {
        let mut client = self.inner.client()?;
        let response = client
            .get(self.inner.key(&format!("names/{name}")), None)
            .await
            .map_err(|error| self.inner.fail(error))?;
        Ok(response
            .kvs()
            .first()
            .and_then(|kv| kv.value_str().ok()?.parse().ok())
            .map(ObjectID))
    }

    async fn view(&self) -> Result<ClusterView> {
        let mut client = self.inner.client()?;
        Ok(self.inner.read_view(&mut client).await?.0)
    }

    fn subscribe(&self) -> broadcast::Receiver<ClusterEvent> {
        self.inner.events.subscribe()
    }

    fn describe(&self) -> String {
        format!("etcd at {}", self.inner.endpoint)
    }
}
