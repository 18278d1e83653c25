//! Metadata operations of the object table: create, get, list, delete, persist, names.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::stored_tree::StoredTree;
use super::{limits, ConnectionId, Matcher, ObjectEntry, ObjectTable};
use crate::error::{Error, Result};
use crate::id::{now_millis, InstanceID, ObjectID, EMPTY_BLOB_ID};
use crate::meta::BLOB_TYPENAME;
use crate::protocol::Pattern;

/// What `create_data` hands back.
#[derive(Clone, Debug, PartialEq)]
pub struct Created {
    /// The new object's id.
    pub id: ObjectID,
    /// Its signature.
    pub signature: u64,
    /// The instance that holds it (`u64::MAX` when members live on several instances).
    pub instance_id: InstanceID,
    /// Trees to publish to the cluster: an object with members on other instances is global
    /// and persisted at once, so that every instance can read it.
    pub publish: Vec<(ObjectID, Map<String, Value>)>,
}

/// What a deletion removed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deleted {
    /// Blobs deleted (their memory is freed once no reader holds them).
    pub blobs: Vec<ObjectID>,
    /// Persisted objects deleted, to withdraw from the cluster.
    pub persisted: Vec<ObjectID>,
    /// Names dropped because their object went away.
    pub names: Vec<String>,
    /// Other instances' objects asked for, to withdraw from the cluster.
    pub remote: Vec<ObjectID>,
}

/// Where a member of a new tree lives.
enum MemberPlace {
    /// In this instance's table.
    Local,
    /// A published object of another instance.
    Remote,
    /// A blob of another instance (not published on its own).
    RemoteBlob,
}

fn member_id(typename: &str, key: &str, member: &Map<String, Value>) -> Result<ObjectID> {
    match member.get("id") {
        Some(Value::String(text)) => text.parse(),
        Some(Value::Number(number)) if number.as_u64().is_some() => {
            Ok(ObjectID(number.as_u64().expect("checked")))
        }
        _ => Err(Error::invalid_metadata(format!(
            "member `{key}` of `{typename}` has no valid `id`; create the member object first \
             and add it by its id"
        ))),
    }
}

impl ObjectTable {
    /// Stores a metadata tree whose members already exist; returns the new id: `assigned`,
    /// an id the connection reserved, or a fresh one.
    pub fn create_data(
        &mut self,
        mut tree: Map<String, Value>,
        assigned: Option<(ConnectionId, ObjectID)>,
    ) -> Result<Created> {
        let typename = match tree.get("typename") {
            Some(Value::String(typename)) => typename.clone(),
            _ => {
                return Err(Error::invalid_metadata(
                    "the tree has no string `typename`; set meta['typename'], e.g. \
                     'vineyard::Tensor<double>'",
                ))
            }
        };
        if typename == BLOB_TYPENAME {
            return Err(Error::assertion(
                "a vineyard::Blob has no metadata of its own: create it with create_buffer, \
                 seal it, and use it as a member",
            ));
        }
        if !tree.get("instance_id").is_some_and(Value::is_u64) {
            return Err(Error::assertion(format!(
                "the tree of `{typename}` has no unsigned integer `instance_id`; use the \
                 instance id from the connection's register reply ({})",
                self.instance_id
            )));
        }
        let member_count = tree.values().filter(|value| value.is_object()).count();
        if member_count > self.limits.members {
            // Checked again with the tree's size below; this one fails before any work.
            self.limits
                .check_object(&typename, 0, member_count, self.metadata_bytes)?;
        }
        let mut members = Vec::new();
        let mut spans_instances = false;
        let mut depth = 1;
        for (key, value) in tree.iter_mut() {
            let Value::Object(member) = value else {
                continue;
            };
            let id = member_id(&typename, key, member)?;
            depth = depth.max(1 + self.depth_of(id, member));
            match self.locate_member(&typename, key, id, member)? {
                MemberPlace::Local => {
                    if !members.contains(&id) {
                        members.push(id);
                    }
                }
                MemberPlace::Remote => spans_instances = true,
                // A blob on another instance is kept as given: only its owner can expand it.
                MemberPlace::RemoteBlob => {
                    spans_instances = true;
                    continue;
                }
            }
            let mut link = Map::new();
            link.insert("id".into(), id.to_string().into());
            *value = Value::Object(link);
        }
        if depth > super::MAX_DEPTH {
            return Err(Error::invalid_metadata(format!(
                "`{typename}` would nest {depth} levels of members; at most {} are allowed",
                super::MAX_DEPTH
            )));
        }
        if spans_instances {
            tree.insert("global".into(), true.into());
        }
        // The fields added below are few and small: counted with the entry's overhead.
        let bytes = limits::tree_bytes(&tree);
        self.limits
            .check_object(&typename, bytes, member_count, self.metadata_bytes)?;
        let id = match assigned {
            Some((connection, id)) => {
                self.take_reserved(connection, id)?;
                id
            }
            None => self.ids.object_id(),
        };
        let signature = match tree.get("signature").and_then(Value::as_u64) {
            Some(signature) => signature,
            None => self.ids.signature(),
        };
        tree.insert("id".into(), id.to_string().into());
        tree.insert("signature".into(), signature.into());
        tree.insert("__timestamp".into(), now_millis().into());
        if !tree.get("nbytes").is_some_and(Value::is_u64) {
            tree.insert("nbytes".into(), 0.into());
        }
        tree.entry("transient").or_insert(true.into());
        tree.entry("global").or_insert(false.into());
        for &member in &members {
            if member == EMPTY_BLOB_ID {
                continue;
            }
            if member.is_blob() {
                self.blobs
                    .get_mut(&member)
                    .expect("checked")
                    .users
                    .insert(id);
            } else {
                self.objects
                    .get_mut(&member)
                    .expect("checked")
                    .users
                    .insert(id);
            }
        }
        self.metadata_bytes += bytes;
        self.objects.insert(
            id,
            ObjectEntry {
                tree: StoredTree::new(&tree),
                members,
                users: BTreeSet::new(),
                depth,
                bytes,
            },
        );
        let publish = if spans_instances {
            self.persist(id)?
        } else {
            self.publish(id);
            Vec::new()
        };
        Ok(Created {
            id,
            signature,
            instance_id: if spans_instances {
                InstanceID::MAX
            } else {
                self.instance_id
            },
            publish,
        })
    }

    /// Levels of a member's expanded tree.
    fn depth_of(&self, id: ObjectID, given: &Map<String, Value>) -> usize {
        fn json_depth(tree: &Map<String, Value>) -> usize {
            1 + tree
                .values()
                .filter_map(|value| value.as_object().map(json_depth))
                .max()
                .unwrap_or(0)
        }
        if id.is_blob() {
            return 1;
        }
        match (self.objects.get(&id), self.remote.get(&id)) {
            (Some(entry), _) => entry.depth,
            (None, Some(remote)) => json_depth(&remote.tree),
            (None, None) => json_depth(given),
        }
    }

    /// Ids of non-blob members that are known neither locally nor from the cluster.
    pub fn unknown_members(&self, tree: &Map<String, Value>) -> Vec<ObjectID> {
        tree.values()
            .filter_map(|value| match value {
                Value::Object(member) => member_id("", "", member).ok(),
                _ => None,
            })
            .filter(|id| {
                !id.is_blob() && !self.objects.contains_key(id) && !self.remote.contains_key(id)
            })
            .collect()
    }

    fn locate_member(
        &self,
        typename: &str,
        key: &str,
        id: ObjectID,
        member: &Map<String, Value>,
    ) -> Result<MemberPlace> {
        let missing = |what: &str| {
            Error::invalid_metadata(format!(
                "member `{key}` of `{typename}` refers to {what} {id}, which does not exist in \
                 this instance or the cluster; persist it on its own instance first"
            ))
        };
        if id == EMPTY_BLOB_ID {
            return Ok(MemberPlace::Local);
        }
        if id.is_blob() {
            if let Some(entry) = self.blobs.get(&id) {
                if !entry.sealed {
                    return Err(Error::invalid_metadata(format!(
                        "member `{key}` of `{typename}` refers to blob {id}, which is not \
                         sealed; seal it before using it as a member"
                    )));
                }
                return Ok(MemberPlace::Local);
            }
            let owner = member.get("instance_id").and_then(Value::as_u64);
            return match owner {
                Some(owner) if owner != self.instance_id => Ok(MemberPlace::RemoteBlob),
                _ => Err(missing("blob")),
            };
        }
        if self.objects.contains_key(&id) {
            Ok(MemberPlace::Local)
        } else if self.remote.contains_key(&id) {
            Ok(MemberPlace::Remote)
        } else {
            Err(missing("object"))
        }
    }

    /// The expanded tree of an object or blob: members inlined, blob members with sizes.
    pub fn get_tree(&self, id: ObjectID) -> Option<Map<String, Value>> {
        if id.is_blob() {
            return self.blob_tree(id);
        }
        let Some(entry) = self.objects.get(&id) else {
            return self.remote.get(&id).map(|remote| remote.tree.clone());
        };
        let mut tree = entry.tree.to_map();
        for value in tree.values_mut() {
            let Value::Object(link) = value else {
                continue;
            };
            if link.len() != 1 {
                continue;
            }
            let Some(member) = link.get("id").and_then(Value::as_str) else {
                continue;
            };
            let Ok(member) = member.parse::<ObjectID>() else {
                continue;
            };
            if let Some(expanded) = self.get_tree(member) {
                *value = Value::Object(expanded);
            }
        }
        Some(tree)
    }

    /// Trees of the ids that exist, keyed by `"o..."`.
    pub fn get_data(&self, ids: &[ObjectID]) -> Map<String, Value> {
        ids.iter()
            .filter_map(|&id| Some((id.to_string(), Value::Object(self.get_tree(id)?))))
            .collect()
    }

    /// Trees of objects (and sealed blobs) whose typename matches, in id order.
    pub fn list_data(&self, pattern: &Pattern) -> Result<Map<String, Value>> {
        let matcher = Matcher::new(pattern)?;
        let mut ids: Vec<ObjectID> = self
            .objects
            .iter()
            .filter(|(_, entry)| {
                entry
                    .tree
                    .typename()
                    .is_some_and(|typename| matcher.matches(&typename))
            })
            .map(|(&id, _)| id)
            .chain(
                self.remote
                    .iter()
                    .filter(|(_, remote)| {
                        remote
                            .tree
                            .get("typename")
                            .and_then(Value::as_str)
                            .is_some_and(|typename| matcher.matches(typename))
                    })
                    .map(|(&id, _)| id),
            )
            .collect();
        if matcher.matches(BLOB_TYPENAME) {
            ids.extend(
                self.blobs
                    .iter()
                    .filter(|(_, entry)| entry.sealed)
                    .map(|(&id, _)| id),
            );
        }
        ids.sort_unstable();
        ids.truncate(pattern.limit);
        Ok(self.get_data(&ids))
    }

    /// True if the object, or the sealed blob, exists.
    pub fn exists(&self, id: ObjectID) -> bool {
        if id.is_blob() {
            id == EMPTY_BLOB_ID || self.blobs.get(&id).is_some_and(|entry| entry.sealed)
        } else {
            self.objects.contains_key(&id) || self.remote.contains_key(&id)
        }
    }

    /// Deletes objects and blobs; returns the ids of the blobs deleted.
    ///
    /// An object still used as a member elsewhere is kept unless `force`, which deletes its
    /// users first. Blob members no longer used go with the object; with `deep`, so do
    /// non-blob members. Unknown ids are ignored.
    pub fn delete(
        &mut self,
        ids: &[ObjectID],
        force: bool,
        deep: bool,
        fastpath: bool,
    ) -> Result<Deleted> {
        if fastpath {
            if let Some(object) = ids.iter().find(|id| !id.is_blob()) {
                return Err(Error::assertion(format!(
                    "fastpath deletion accepts only blob ids, and {object} is not a blob"
                )));
            }
        }
        if let Some(&id) = ids
            .iter()
            .find(|id| self.blobs.get(id).is_some_and(|entry| !entry.sealed))
        {
            return Err(Error::UnsealedBuffer {
                id,
                action: "delete",
            });
        }
        let mut deleted = Deleted::default();
        for &id in ids {
            if self.remote.contains_key(&id) && !self.objects.contains_key(&id) {
                if force || !self.is_member_anywhere(id) {
                    deleted.remote.push(id);
                }
                continue;
            }
            self.delete_one(id, force, deep, &mut deleted);
        }
        Ok(deleted)
    }

    fn delete_one(&mut self, id: ObjectID, force: bool, deep: bool, out: &mut Deleted) {
        let users = if id.is_blob() {
            match self.blobs.get(&id) {
                // Unsealed buffers belong to their writer until sealed (and are refused above).
                Some(entry) if entry.sealed => entry.users.clone(),
                _ => return,
            }
        } else {
            match self.objects.get(&id) {
                Some(entry) => entry.users.clone(),
                None => return,
            }
        };
        if !users.is_empty() {
            if !force {
                return;
            }
            for user in users {
                self.delete_one(user, force, deep, out);
            }
        }
        if id.is_blob() {
            // Deleting the users may already have taken this blob with them.
            if let Some(entry) = self.blobs.remove(&id) {
                self.free_or_defer(id, entry);
                out.blobs.push(id);
            }
            return;
        }
        let Some(entry) = self.objects.remove(&id) else {
            return;
        };
        self.metadata_bytes -= entry.bytes;
        self.withdraw_from_index(id);
        if entry.tree.is_persisted() {
            out.persisted.push(id);
        }
        let names = &mut out.names;
        let mut freed = 0;
        self.names.retain(|name, named| {
            let keep = *named != id;
            if !keep {
                freed += limits::name_bytes(name);
                names.push(name.clone());
            }
            keep
        });
        self.metadata_bytes -= freed;
        for member in entry.members {
            if member.is_blob() {
                let unused = self.blobs.get_mut(&member).is_some_and(|blob| {
                    blob.users.remove(&id);
                    blob.users.is_empty()
                });
                if unused {
                    let blob = self.blobs.remove(&member).expect("present");
                    self.free_or_defer(member, blob);
                    out.blobs.push(member);
                }
            } else {
                let unused = self.objects.get_mut(&member).is_some_and(|object| {
                    object.users.remove(&id);
                    object.users.is_empty()
                });
                if unused && deep {
                    self.delete_one(member, false, deep, out);
                }
            }
        }
    }

    /// True if any local or published tree has `id` as a member.
    fn is_member_anywhere(&self, id: ObjectID) -> bool {
        let text = id.to_string();
        fn mentions(tree: &Map<String, Value>, text: &str) -> bool {
            tree.values().any(|value| match value {
                Value::Object(member) => {
                    member.get("id").and_then(Value::as_str) == Some(text) || mentions(member, text)
                }
                _ => false,
            })
        }
        self.objects
            .values()
            .any(|entry| entry.tree.may_mention(&text) && mentions(&entry.tree.to_map(), &text))
            || self
                .remote
                .values()
                .any(|remote| mentions(&remote.tree, &text))
    }

    /// Gives the memory of every free range of the store back to the system (Vineyard's
    /// `memory_trim`); returns the bytes released.
    pub fn trim_memory(&mut self) -> u64 {
        let arena = &self.arena;
        self.allocator
            .free_ranges()
            .map(|(offset, length)| arena.release(offset, length))
            .sum()
    }

    /// Deletes every object and every sealed blob (buffers being written are left alone).
    pub fn clear(&mut self) -> Deleted {
        let mut ids: Vec<ObjectID> = self.objects.keys().copied().collect();
        ids.extend(
            self.blobs
                .iter()
                .filter(|(_, entry)| entry.sealed)
                .map(|(&id, _)| id),
        );
        let mut deleted = Deleted::default();
        for id in ids {
            self.delete_one(id, true, true, &mut deleted);
        }
        let names = std::mem::take(&mut self.names);
        self.metadata_bytes -= names
            .keys()
            .map(|name| limits::name_bytes(name))
            .sum::<u64>();
        deleted
    }

    /// Marks an object and its non-blob members persisted; returns the expanded trees of those
    /// that were not persisted yet, to publish to the cluster.
    pub fn persist(&mut self, id: ObjectID) -> Result<Vec<(ObjectID, Map<String, Value>)>> {
        let mut newly = Vec::new();
        self.mark_persisted(id, &mut newly)?;
        self.republish_with_users(&newly);
        Ok(newly
            .into_iter()
            .filter_map(|id| Some((id, self.get_tree(id)?)))
            .collect())
    }

    /// Undoes [`persist`](Self::persist) for objects whose publication failed.
    pub fn unpersist(&mut self, ids: &[ObjectID]) {
        for id in ids {
            if let Some(entry) = self.objects.get_mut(id) {
                entry.tree.update(|tree| {
                    tree.insert("transient".into(), true.into());
                });
            }
        }
        self.republish_with_users(ids);
    }

    fn mark_persisted(&mut self, id: ObjectID, newly: &mut Vec<ObjectID>) -> Result<()> {
        if id.is_blob() {
            return Err(Error::assertion(format!(
                "blobs cannot be persisted: {id} is a blob; persist an object that has it as a \
                 member"
            )));
        }
        if self.remote.contains_key(&id) {
            // Published by its owner already.
            return Ok(());
        }
        let members = self
            .objects
            .get(&id)
            .ok_or(Error::SubtreeNotExists { id })?
            .members
            .clone();
        if let Some(entry) = self.objects.get_mut(&id) {
            if !entry.tree.is_persisted() {
                newly.push(id);
                entry.tree.update(|tree| {
                    tree.insert("transient".into(), false.into());
                });
            }
        }
        for member in members {
            if !member.is_blob() {
                self.mark_persisted(member, newly)?;
            }
        }
        Ok(())
    }

    /// Whether an object is persisted (blobs never are).
    pub fn is_persisted(&self, id: ObjectID) -> Result<bool> {
        if id.is_blob() {
            return Ok(false);
        }
        if self.remote.contains_key(&id) {
            return Ok(true);
        }
        let entry = self
            .objects
            .get(&id)
            .ok_or(Error::SubtreeNotExists { id })?;
        Ok(entry.tree.is_persisted())
    }

    /// Names a persisted object.
    pub fn put_name(&mut self, id: ObjectID, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::invalid("a name cannot be empty"));
        }
        self.limits.check_name(name)?;
        if !self.names.contains_key(name) {
            self.limits
                .check_total(limits::name_bytes(name), self.metadata_bytes)?;
        }
        if id.is_blob() {
            return Err(Error::invalid(format!(
                "blobs cannot have names: {id} is a blob; name an object that has it as a member"
            )));
        }
        if self.remote.contains_key(&id) {
            self.set_name(name.to_string(), id);
            return Ok(());
        }
        let entry = self.objects.get(&id).ok_or(Error::ObjectNotExists { id })?;
        if !entry.tree.is_persisted() {
            return Err(Error::invalid(format!(
                "transient objects cannot have names: persist {id} first"
            )));
        }
        self.set_name(name.to_string(), id);
        if let Some(entry) = self.objects.get_mut(&id) {
            entry.tree.update(|tree| {
                tree.insert("__name".into(), name.into());
            });
        }
        self.republish_with_users(&[id]);
        Ok(())
    }

    /// The object a name points at.
    pub fn get_name(&self, name: &str) -> Option<ObjectID> {
        self.names.get(name).copied()
    }

    /// Removes a name (unknown names are fine).
    pub fn drop_name(&mut self, name: &str) {
        if let Some(id) = self.names.remove(name) {
            self.metadata_bytes -= limits::name_bytes(name);
            if let Some(entry) = self.objects.get_mut(&id) {
                if entry.tree.name().as_deref() == Some(name) {
                    entry.tree.update(|tree| {
                        tree.remove("__name");
                    });
                    self.republish_with_users(&[id]);
                }
            }
        }
    }

    /// Names matching the pattern, in name order, up to its limit.
    pub fn list_names(&self, pattern: &Pattern) -> Result<Vec<(String, ObjectID)>> {
        let matcher = Matcher::new(pattern)?;
        Ok(self
            .names
            .iter()
            .filter(|(name, _)| matcher.matches(name))
            .take(pattern.limit)
            .map(|(name, &id)| (name.clone(), id))
            .collect())
    }
}
