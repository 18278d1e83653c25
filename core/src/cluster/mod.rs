//! Cluster metadata: the `MetaStore` trait that shares persisted objects, names and instance
//! membership between instances, with an in-process backend and an etcd backend.
//!
//! Every published record belongs to the instance that published it and lives only as long
//! as that instance (etcd: under its lease), so a dead instance's objects leave the view.

mod etcd;
mod launch;
mod local;

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::broadcast;

pub use etcd::EtcdMetaStore;
pub use launch::{find_or_start_etcd, is_healthy, EtcdLaunch};
pub use local::LocalMetaStore;

use crate::error::Result;
use crate::id::{InstanceID, ObjectID};

/// How other instances and clients reach one instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// The instance's cluster-unique id.
    pub instance_id: InstanceID,
    /// Host name of its machine.
    pub hostname: String,
    /// Its IPC socket path.
    pub ipc_socket: String,
    /// Its RPC (Flight) endpoint, `host:port`.
    pub rpc_endpoint: String,
    /// When it joined, in milliseconds since the epoch.
    pub timestamp: u64,
}

/// A published object: its expanded metadata tree and the instance that owns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublishedObject {
    /// The instance holding the object (and publishing it).
    pub owner: InstanceID,
    /// The expanded metadata tree.
    pub tree: Map<String, Value>,
}

/// Everything the cluster shares, at one point in time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterView {
    /// Published objects by id.
    pub objects: HashMap<ObjectID, PublishedObject>,
    /// Names by name.
    pub names: BTreeMap<String, ObjectID>,
    /// Live instances by id.
    pub instances: BTreeMap<InstanceID, InstanceInfo>,
}

/// A change to the shared metadata, as seen by a watching instance.
#[derive(Clone, Debug, PartialEq)]
pub enum ClusterEvent {
    /// An object was published (or republished).
    ObjectPublished(ObjectID, PublishedObject),
    /// An object was withdrawn (deleted, or its owner died).
    ObjectWithdrawn(ObjectID),
    /// A name now points at an object.
    NamePut(String, ObjectID),
    /// A name was dropped.
    NameDropped(String),
    /// An instance joined (or re-registered).
    InstanceUp(InstanceInfo),
    /// An instance left or died.
    InstanceDown(InstanceID),
    /// The connection to the store was re-established: here is the whole view again.
    Resynced(Box<ClusterView>),
}

/// Shared cluster metadata. Operations fail fast with [`crate::Error::Cluster`] when the
/// backend is unreachable; the backend reconnects, re-registers and re-syncs by itself.
#[async_trait]
pub trait MetaStore: Send + Sync {
    /// Joins the cluster: allocates this instance's id and registers `info` (its
    /// `instance_id` is ignored) for as long as this store lives.
    async fn join(&self, info: InstanceInfo) -> Result<InstanceID>;

    /// Publishes objects owned by this instance.
    async fn publish(&self, objects: Vec<(ObjectID, Map<String, Value>)>) -> Result<()>;

    /// Withdraws published objects (any owner's).
    async fn withdraw(&self, ids: Vec<ObjectID>) -> Result<()>;

    /// Points a name at an object.
    async fn put_name(&self, name: &str, id: ObjectID) -> Result<()>;

    /// Drops a name.
    async fn drop_name(&self, name: &str) -> Result<()>;

    /// A consistent read of one published object.
    async fn fetch(&self, id: ObjectID) -> Result<Option<PublishedObject>>;

    /// A consistent read of one name.
    async fn fetch_name(&self, name: &str) -> Result<Option<ObjectID>>;

    /// The whole shared view, read consistently.
    async fn view(&self) -> Result<ClusterView>;

    /// Leaves the cluster: this instance's registration and records go away now rather than
    /// when its lease expires.
    async fn leave(&self);

    /// Changes made by any instance (this one included), in order.
    fn subscribe(&self) -> broadcast::Receiver<ClusterEvent>;

    /// A short description for logs (`etcd at http://...`).
    fn describe(&self) -> String;
}
