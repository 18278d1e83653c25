//! Metadata operations of the object table: create, get, list, delete, persist, names.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{Matcher, ObjectEntry, ObjectTable};
use crate::error::{Error, Result};
use crate::id::{now_millis, InstanceID, ObjectID, EMPTY_BLOB_ID};
use crate::meta::BLOB_TYPENAME;
use crate::protocol::Pattern;

/// What `create_data` hands back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Created {
    /// The new object's id.
    pub id: ObjectID,
    /// Its signature.
    pub signature: u64,
    /// The instance that holds it.
    pub instance_id: InstanceID,
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
    /// Stores a metadata tree whose members already exist; returns the new id.
    pub fn create_data(&mut self, mut tree: Map<String, Value>) -> Result<Created> {
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
            return Err(Error::invalid_metadata(
                "a vineyard::Blob has no metadata of its own: create it with create_buffer, \
                 seal it, and use it as a member",
            ));
        }
        if !tree.get("instance_id").is_some_and(Value::is_u64) {
            return Err(Error::invalid_metadata(format!(
                "the tree of `{typename}` has no unsigned integer `instance_id`; use the \
                 instance id from the connection's register reply ({})",
                self.instance_id
            )));
        }
        let mut members = Vec::new();
        for (key, value) in tree.iter_mut() {
            let Value::Object(member) = value else {
                continue;
            };
            let id = member_id(&typename, key, member)?;
            self.check_member(&typename, key, id)?;
            let mut link = Map::new();
            link.insert("id".into(), id.to_string().into());
            *value = Value::Object(link);
            if !members.contains(&id) {
                members.push(id);
            }
        }
        let id = self.ids.object_id();
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
        self.objects.insert(
            id,
            ObjectEntry {
                tree,
                members,
                users: BTreeSet::new(),
            },
        );
        Ok(Created {
            id,
            signature,
            instance_id: self.instance_id,
        })
    }

    fn check_member(&self, typename: &str, key: &str, id: ObjectID) -> Result<()> {
        let missing = |what: &str| {
            Error::invalid_metadata(format!(
                "member `{key}` of `{typename}` refers to {what} {id}, which does not exist here"
            ))
        };
        if id == EMPTY_BLOB_ID {
            return Ok(());
        }
        if id.is_blob() {
            let entry = self.blobs.get(&id).ok_or_else(|| missing("blob"))?;
            if !entry.sealed {
                return Err(Error::invalid_metadata(format!(
                    "member `{key}` of `{typename}` refers to blob {id}, which is not sealed; \
                     seal it before using it as a member"
                )));
            }
        } else if !self.objects.contains_key(&id) {
            return Err(missing("object"));
        }
        Ok(())
    }

    /// The expanded tree of an object or blob: members inlined, blob members with sizes.
    pub fn get_tree(&self, id: ObjectID) -> Option<Map<String, Value>> {
        if id.is_blob() {
            return self.blob_tree(id);
        }
        let entry = self.objects.get(&id)?;
        let mut tree = entry.tree.clone();
        for value in tree.values_mut() {
            let Value::Object(link) = value else {
                continue;
            };
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
                    .get("typename")
                    .and_then(Value::as_str)
                    .is_some_and(|typename| matcher.matches(typename))
            })
            .map(|(&id, _)| id)
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
            self.objects.contains_key(&id)
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
    ) -> Result<Vec<ObjectID>> {
        if fastpath {
            if let Some(object) = ids.iter().find(|id| !id.is_blob()) {
                return Err(Error::invalid(format!(
                    "fastpath deletion accepts only blob ids, and {object} is not a blob"
                )));
            }
        }
        let mut deleted_blobs = Vec::new();
        for &id in ids {
            self.delete_one(id, force, deep, &mut deleted_blobs);
        }
        Ok(deleted_blobs)
    }

    fn delete_one(&mut self, id: ObjectID, force: bool, deep: bool, out: &mut Vec<ObjectID>) {
        let users = if id.is_blob() {
            match self.blobs.get(&id) {
                // Unsealed buffers belong to their writer until sealed.
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
                out.push(id);
            }
            return;
        }
        let Some(entry) = self.objects.remove(&id) else {
            return;
        };
        self.names.retain(|_, named| *named != id);
        for member in entry.members {
            if member.is_blob() {
                let unused = self.blobs.get_mut(&member).is_some_and(|blob| {
                    blob.users.remove(&id);
                    blob.users.is_empty()
                });
                if unused {
                    let blob = self.blobs.remove(&member).expect("present");
                    self.free_or_defer(member, blob);
                    out.push(member);
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

    /// Deletes every object and every sealed blob (buffers being written are left alone).
    pub fn clear(&mut self) {
        let mut ids: Vec<ObjectID> = self.objects.keys().copied().collect();
        ids.extend(
            self.blobs
                .iter()
                .filter(|(_, entry)| entry.sealed)
                .map(|(&id, _)| id),
        );
        let mut deleted = Vec::new();
        for id in ids {
            self.delete_one(id, true, true, &mut deleted);
        }
        self.names.clear();
    }

    fn object_entry(&self, id: ObjectID, action: &str) -> Result<&ObjectEntry> {
        if id.is_blob() {
            return Err(Error::invalid(format!(
                "blobs cannot {action}: {id} is a blob; use an object that has it as a member"
            )));
        }
        self.objects.get(&id).ok_or(Error::ObjectNotExists { id })
    }

    /// Marks an object and its non-blob members persisted.
    pub fn persist(&mut self, id: ObjectID) -> Result<()> {
        let members = self.object_entry(id, "be persisted")?.members.clone();
        if let Some(entry) = self.objects.get_mut(&id) {
            entry.tree.insert("transient".into(), false.into());
        }
        for member in members {
            if !member.is_blob() {
                self.persist(member)?;
            }
        }
        Ok(())
    }

    /// Whether an object is persisted (blobs never are).
    pub fn is_persisted(&self, id: ObjectID) -> Result<bool> {
        if id.is_blob() {
            return Ok(false);
        }
        let entry = self.objects.get(&id).ok_or(Error::ObjectNotExists { id })?;
        Ok(entry.tree.get("transient") == Some(&Value::Bool(false)))
    }

    /// Names a persisted object.
    pub fn put_name(&mut self, id: ObjectID, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::invalid("a name cannot be empty"));
        }
        let entry = self.object_entry(id, "have names")?;
        if entry.tree.get("transient") != Some(&Value::Bool(false)) {
            return Err(Error::invalid(format!(
                "transient objects cannot have names: persist {id} first"
            )));
        }
        self.names.insert(name.to_string(), id);
        if let Some(entry) = self.objects.get_mut(&id) {
            entry.tree.insert("__name".into(), name.into());
        }
        Ok(())
    }

    /// The object a name points at.
    pub fn get_name(&self, name: &str) -> Option<ObjectID> {
        self.names.get(name).copied()
    }

    /// Removes a name (unknown names are fine).
    pub fn drop_name(&mut self, name: &str) {
        if let Some(id) = self.names.remove(name) {
            if let Some(entry) = self.objects.get_mut(&id) {
                if entry.tree.get("__name").and_then(Value::as_str) == Some(name) {
                    entry.tree.remove("__name");
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
