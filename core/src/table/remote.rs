//! The table's view of the cluster: objects other instances published, and shared names.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{limits, ObjectTable, RemoteObject};
use crate::id::{InstanceID, ObjectID};

impl ObjectTable {
    /// Records (or replaces) an object another instance published. Own objects are ignored:
    /// the table already has them.
    pub fn add_remote(&mut self, id: ObjectID, owner: InstanceID, tree: Map<String, Value>) {
        if owner != self.instance_id {
            // Counted, not refused: the cluster's view must stay whole.
            let bytes = limits::tree_bytes(&tree);
            self.metadata_bytes += bytes;
            if let Some(old) = self.remote.insert(id, RemoteObject { owner, tree, bytes }) {
                self.metadata_bytes -= old.bytes;
            }
        }
    }

    /// Forgets a remote object; true if it was known.
    pub fn remove_remote(&mut self, id: ObjectID) -> bool {
        match self.remote.remove(&id) {
            Some(old) => {
                self.metadata_bytes -= old.bytes;
                true
            }
            None => false,
        }
    }

    /// Forgets every object published by `owner` (it left the cluster).
    pub fn remove_remote_owner(&mut self, owner: InstanceID) {
        let mut freed = 0;
        self.remote.retain(|_, remote| {
            let keep = remote.owner != owner;
            if !keep {
                freed += remote.bytes;
            }
            keep
        });
        self.metadata_bytes -= freed;
    }

    /// True if `id` is one of this instance's own objects (not a remote one).
    pub fn is_local_object(&self, id: ObjectID) -> bool {
        self.objects.contains_key(&id)
    }

    /// Replaces the remote view and the names with a fresh copy of the cluster's.
    pub fn reset_cluster_view(
        &mut self,
        objects: impl IntoIterator<Item = (ObjectID, InstanceID, Map<String, Value>)>,
        names: BTreeMap<String, ObjectID>,
    ) {
        let freed: u64 = self
            .remote
            .drain()
            .map(|(_, remote)| remote.bytes)
            .sum::<u64>()
            + self
                .names
                .keys()
                .map(|name| limits::name_bytes(name))
                .sum::<u64>();
        self.metadata_bytes -= freed;
        for (id, owner, tree) in objects {
            self.add_remote(id, owner, tree);
        }
        self.metadata_bytes += names
            .keys()
            .map(|name| limits::name_bytes(name))
            .sum::<u64>();
        self.names = names;
    }

    /// Points a name at an object, as told by the cluster (or as checked by `put_name`).
    pub fn set_name(&mut self, name: String, id: ObjectID) {
        let bytes = limits::name_bytes(&name);
        if self.names.insert(name, id).is_none() {
            self.metadata_bytes += bytes;
        }
    }
}
