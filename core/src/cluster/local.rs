//! The in-process backend: one `LocalMetaStore` is a whole cluster; `member()` adds handles
//! that act as further instances of it (used by tests and by the single-instance default).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio::sync::broadcast;

use super::{ClusterEvent, ClusterView, InstanceInfo, MetaStore, PublishedObject};
use crate::error::Result;
use crate::id::{InstanceID, ObjectID};

const UNJOINED: u64 = u64::MAX;

struct Shared {
    view: Mutex<ClusterView>,
    events: broadcast::Sender<ClusterEvent>,
    next_instance: AtomicU64,
}

/// An in-process cluster, or one member handle of it.
pub struct LocalMetaStore {
    shared: Arc<Shared>,
    instance: AtomicU64,
}

impl Default for LocalMetaStore {
    fn default() -> Self {
        LocalMetaStore::new()
    }
}

impl LocalMetaStore {
    /// A new, empty cluster.
    pub fn new() -> LocalMetaStore {
        LocalMetaStore {
            shared: Arc::new(Shared {
                view: Mutex::new(ClusterView::default()),
                events: broadcast::channel(4096).0,
                next_instance: AtomicU64::new(0),
            }),
            instance: AtomicU64::new(UNJOINED),
        }
    }

    /// Another member of the same cluster (it joins separately).
    pub fn member(&self) -> LocalMetaStore {
        LocalMetaStore {
            shared: Arc::clone(&self.shared),
            instance: AtomicU64::new(UNJOINED),
        }
    }

    fn owner(&self) -> InstanceID {
        self.instance.load(Ordering::SeqCst)
    }

    fn change(&self, apply: impl FnOnce(&mut ClusterView) -> Vec<ClusterEvent>) {
        let mut view = self
            .shared
            .view
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        for event in apply(&mut view) {
            let _ = self.shared.events.send(event);
        }
    }
}

#[async_trait]
impl MetaStore for LocalMetaStore {
    async fn join(&self, mut info: InstanceInfo) -> Result<InstanceID> {
        let id = self.shared.next_instance.fetch_add(1, Ordering::SeqCst);
        self.instance.store(id, Ordering::SeqCst);
        info.instance_id = id;
        self.change(|view| {
            view.instances.insert(id, info.clone());
            vec![ClusterEvent::InstanceUp(info)]
        });
        Ok(id)
    }

    async fn publish(&self, objects: Vec<(ObjectID, Map<String, Value>)>) -> Result<()> {
        let owner = self.owner();
        self.change(|view| {
            objects
                .into_iter()
                .map(|(id, tree)| {
                    let published = PublishedObject { owner, tree };
                    view.objects.insert(id, published.clone());
                    ClusterEvent::ObjectPublished(id, published)
                })
                .collect()
        });
        Ok(())
    }

    async fn withdraw(&self, ids: Vec<ObjectID>) -> Result<()> {
        self.change(|view| {
            ids.into_iter()
                .filter(|id| view.objects.remove(id).is_some())
                .map(ClusterEvent::ObjectWithdrawn)
                .collect()
        });
        Ok(())
    }

    async fn put_name(&self, name: &str, id: ObjectID) -> Result<()> {
        self.change(|view| {
            view.names.insert(name.to_string(), id);
            vec![ClusterEvent::NamePut(name.to_string(), id)]
        });
        Ok(())
    }

    async fn drop_name(&self, name: &str) -> Result<()> {
        self.change(|view| match view.names.remove(name) {
            Some(_) => vec![ClusterEvent::NameDropped(name.to_string())],
            None => Vec::new(),
        });
        Ok(())
    }

    async fn fetch(&self, id: ObjectID) -> Result<Option<PublishedObject>> {
        let view = self
            .shared
            .view
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        Ok(view.objects.get(&id).cloned())
    }

    async fn fetch_name(&self, name: &str) -> Result<Option<ObjectID>> {
        let view = self
            .shared
            .view
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        Ok(view.names.get(name).copied())
    }

    async fn view(&self) -> Result<ClusterView> {
        let view = self
            .shared
            .view
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        Ok(view.clone())
    }

    async fn leave(&self) {
        self.withdraw_everything();
    }

    fn subscribe(&self) -> broadcast::Receiver<ClusterEvent> {
        self.shared.events.subscribe()
    }

    fn describe(&self) -> String {
        "local (in-process) metadata".into()
    }
}

impl LocalMetaStore {
    /// Removes this member's objects and registration.
    fn withdraw_everything(&self) {
        let owner = self.instance.swap(UNJOINED, Ordering::SeqCst);
        if owner == UNJOINED {
            return;
        }
        self.change(|view| {
            let gone: Vec<ObjectID> = view
                .objects
                .iter()
                .filter(|(_, object)| object.owner == owner)
                .map(|(&id, _)| id)
                .collect();
            let mut events: Vec<ClusterEvent> = gone
                .into_iter()
                .map(|id| {
                    view.objects.remove(&id);
                    ClusterEvent::ObjectWithdrawn(id)
                })
                .collect();
            view.instances.remove(&owner);
            events.push(ClusterEvent::InstanceDown(owner));
            events
        });
    }
}

impl Drop for LocalMetaStore {
    /// A member that goes away takes its objects and its registration with it.
    fn drop(&mut self) {
        self.withdraw_everything();
    }
}
