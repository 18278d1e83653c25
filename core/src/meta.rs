//! `ObjectMeta`: an object's metadata tree, kept as Vineyard's JSON.
//!
//! A tree holds `typename`, `id`, `instance_id`, `nbytes`, `transient`, `global`, plain fields
//! and members; every JSON-object value is a member, itself a tree.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::id::{InstanceID, ObjectID};

/// Typename of blobs.
pub const BLOB_TYPENAME: &str = "vineyard::Blob";

/// The metadata tree of one object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[repr(transparent)]
pub struct ObjectMeta(Map<String, Value>);

impl ObjectMeta {
    /// An empty, transient, non-global tree.
    pub fn new() -> ObjectMeta {
        let mut meta = ObjectMeta(Map::new());
        meta.insert("transient", true);
        meta.insert("global", false);
        meta
    }

    /// A tree of the given typename.
    pub fn with_typename(typename: &str) -> ObjectMeta {
        let mut meta = ObjectMeta::new();
        meta.set_typename(typename);
        meta
    }

    /// Wraps a JSON value, which must be an object.
    pub fn from_json(value: Value) -> Result<ObjectMeta> {
        match value {
            Value::Object(map) => Ok(ObjectMeta(map)),
            other => Err(Error::invalid_metadata(format!(
                "a metadata tree must be a JSON object, got {other}"
            ))),
        }
    }

    /// The JSON object behind this tree.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The JSON object behind this tree, mutably.
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }

    /// Unwraps into the JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The typename, if set.
    pub fn typename(&self) -> Option<&str> {
        self.0.get("typename").and_then(Value::as_str)
    }

    /// Sets the typename.
    pub fn set_typename(&mut self, typename: &str) {
        self.insert("typename", typename);
    }

    /// The object id, if the tree has one (`"o..."` text or an integer).
    pub fn id(&self) -> Option<ObjectID> {
        match self.0.get("id")? {
            Value::String(text) => text.parse().ok(),
            Value::Number(number) => number.as_u64().map(ObjectID),
            _ => None,
        }
    }

    /// Sets the id (stored as `"o..."` text, as Vineyard).
    pub fn set_id(&mut self, id: ObjectID) {
        self.insert("id", id.to_string());
    }

    /// The instance that holds the object's payload.
    pub fn instance_id(&self) -> Option<InstanceID> {
        self.0.get("instance_id").and_then(Value::as_u64)
    }

    /// Sets the instance id.
    pub fn set_instance_id(&mut self, instance: InstanceID) {
        self.insert("instance_id", instance);
    }

    /// Bytes of payload the object accounts for (0 when missing or null).
    pub fn nbytes(&self) -> u64 {
        self.0.get("nbytes").and_then(Value::as_u64).unwrap_or(0)
    }

    /// Sets `nbytes`.
    pub fn set_nbytes(&mut self, nbytes: u64) {
        self.insert("nbytes", nbytes);
    }

    /// True until the object is persisted.
    pub fn is_transient(&self) -> bool {
        self.0
            .get("transient")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }

    /// True for global objects (members on several instances).
    pub fn is_global(&self) -> bool {
        self.0
            .get("global")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Marks the object global or not.
    pub fn set_global(&mut self, global: bool) {
        self.insert("global", global);
    }

    /// True for blob trees.
    pub fn is_blob(&self) -> bool {
        self.typename() == Some(BLOB_TYPENAME) || self.id().is_some_and(ObjectID::is_blob)
    }

    /// A field's value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Sets a field.
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.to_string(), value.into());
    }

    /// Adds (or replaces) a member.
    pub fn add_member(&mut self, name: &str, member: ObjectMeta) {
        self.0.insert(name.to_string(), Value::Object(member.0));
    }

    /// Adds a member known only by id; the server fills in its tree.
    pub fn add_member_id(&mut self, name: &str, id: ObjectID) {
        let mut placeholder = Map::new();
        placeholder.insert("id".into(), id.to_string().into());
        self.0.insert(name.to_string(), Value::Object(placeholder));
    }

    /// The member called `name`, if any.
    pub fn member(&self, name: &str) -> Option<ObjectMeta> {
        match self.0.get(name)? {
            Value::Object(map) => Some(ObjectMeta(map.clone())),
            _ => None,
        }
    }

    /// The member called `name`, borrowed (its tree is not copied).
    pub fn member_ref(&self, name: &str) -> Option<&ObjectMeta> {
        match self.0.get(name)? {
            Value::Object(map) => Some(ObjectMeta::from_map_ref(map)),
            _ => None,
        }
    }

    /// A borrowed tree as an `ObjectMeta` (no copy).
    pub fn from_map_ref(map: &Map<String, Value>) -> &ObjectMeta {
        // SAFETY: `ObjectMeta` is `#[repr(transparent)]` over `Map<String, Value>`, so both
        // have the same layout, and the reference keeps the borrow of `map`.
        unsafe { &*(map as *const Map<String, Value>).cast::<ObjectMeta>() }
    }

    /// The member names and trees, in key order.
    pub fn members(&self) -> impl Iterator<Item = (&str, &Map<String, Value>)> {
        self.0.iter().filter_map(|(key, value)| match value {
            Value::Object(map) => Some((key.as_str(), map)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_captured_tree() {
        let text = r#"{"__timestamp":1795353683250,"buffer_":{"id":"oe880dac94c400003",
            "instance_id":0,"length":0,"nbytes":0,"transient":true,"typename":"vineyard::Blob"},
            "global":false,"id":"o6880dac94c800005","instance_id":0,"nbytes":64,
            "shape_":"[8]","signature":7530259135070208004,"transient":true,
            "typename":"vineyard::Tensor<double>"}"#;
        let meta: ObjectMeta = serde_json::from_str(text).unwrap();
        assert_eq!(meta.typename(), Some("vineyard::Tensor<double>"));
        assert_eq!(meta.id(), Some(ObjectID(0x6880dac94c800005)));
        assert_eq!(meta.nbytes(), 64);
        assert!(meta.is_transient() && !meta.is_global());
        let members: Vec<_> = meta.members().map(|(name, _)| name).collect();
        assert_eq!(members, ["buffer_"]);
        assert!(meta.member("buffer_").unwrap().is_blob());
    }

    #[test]
    fn builds_and_serialises_in_key_order() {
        let mut meta = ObjectMeta::with_typename("vineyard::Pair");
        meta.set_instance_id(3);
        meta.add_member_id("first", ObjectID(1));
        let text = serde_json::to_string(&meta).unwrap();
        assert_eq!(
            text,
            r#"{"first":{"id":"o0000000000000001"},"global":false,"instance_id":3,"transient":true,"typename":"vineyard::Pair"}"#
        );
        assert!(ObjectMeta::from_json(Value::from(3)).is_err());
    }
}
