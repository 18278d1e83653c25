//! The table's view of the cluster: objects other instances published, and shared names.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{ObjectTable, RemoteObject};
use crate::id::{InstanceID, ObjectID};

impl ObjectTable {
    /// Records (or replaces) an object another instance published. Own objects are ignored:
    /// the table already has them.
    pub fn add_remote(&mut self, id: ObjectID, owner: InstanceID, tree: Map<String, Value>) {
        if owner != self.instance_id {
            self.remote.insert(id, RemoteObject { owner, tree });
        }
    }

    /// Forgets a remote object; true if it was known.
    pub fn remove_remote(&mut self, id: ObjectID) -> bool {
        self.remote.remove(&id).is_some()
    }

    /// Forgets every object published by `owner` (it left the cluster).
    pub fn remove_remote_owner(&mut self, owner: InstanceID) {
        self.remote.retain(|_, remote| remote.owner != owner);
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
        self.remote.clear();
        for (id, owner, tree) in objects {
            self.add_remote(id, owner, tree);
        }
        self.names = names;
    }

    /// Points a name at an object, as told by the cluster.
    pub fn set_name(&mut self, name: String, id: ObjectID) {
        self.names.insert(name, id);
    }
}
