//! Applying the cluster's changes to this instance's view of it.

use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use super::Shared;
use crate::cluster::ClusterEvent;

impl Shared {
    /// Applies one change of the shared metadata.
    pub(super) fn apply(&self, event: ClusterEvent) {
        let own = self.instance_id();
        match event {
            ClusterEvent::ObjectPublished(id, object) => {
                self.table().add_remote(id, object.owner, object.tree);
            }
            ClusterEvent::ObjectWithdrawn(id) => {
                let mut table = self.table();
                if !table.remove_remote(id) && table.is_local_object(id) {
                    // Deleted from another instance: delete it here, where it lives, and
                    // withdraw the members that went with it. An object still used here
                    // stays, and is published again.
                    let Ok(mut deleted) = table.delete(&[id], false, true, false) else {
                        return;
                    };
                    let kept = table.get_tree(id).filter(|_| table.is_local_object(id));
                    deleted.persisted.retain(|&persisted| persisted != id);
                    let cluster = Arc::clone(&self.cluster);
                    tokio::spawn(async move {
                        if let Some(tree) = kept {
                            let _ = cluster.publish(vec![(id, tree)]).await;
                        }
                        if !deleted.persisted.is_empty() {
                            let _ = cluster.withdraw(deleted.persisted).await;
                        }
                        for name in deleted.names {
                            let _ = cluster.drop_name(&name).await;
                        }
                    });
                }
            }
            ClusterEvent::NamePut(name, id) => self.table().set_name(name, id),
            ClusterEvent::NameDropped(name) => self.table().drop_name(&name),
            ClusterEvent::InstanceUp(info) => {
                self.instances().insert(info.instance_id, info);
            }
            ClusterEvent::InstanceDown(instance) if instance != own => {
                self.instances().remove(&instance);
                self.table().remove_remote_owner(instance);
            }
            ClusterEvent::InstanceDown(_) => {}
            ClusterEvent::Resynced(view) => {
                let view = *view;
                self.table().reset_cluster_view(
                    view.objects
                        .into_iter()
                        .map(|(id, object)| (id, object.owner, object.tree)),
                    view.names,
                );
                *self.instances() = view.instances;
            }
        }
        self.changed.notify_waiters();
    }
}

/// Applies cluster events until the store goes away; after a lag, re-reads the whole view.
pub(super) async fn follow(shared: Arc<Shared>, mut events: broadcast::Receiver<ClusterEvent>) {
    loop {
        match events.recv().await {
            Ok(event) => shared.apply(event),
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "fell behind the cluster's changes; re-reading the view"
                );
                if let Ok(view) = shared.cluster.view().await {
                    shared.apply(ClusterEvent::Resynced(Box::new(view)));
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}
