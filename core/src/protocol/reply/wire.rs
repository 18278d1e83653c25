//! Serde helpers for Vineyard's spellings: object ids as unsigned numbers (not `o...` text),
//! and maps that are sent as `null` when empty.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::id::ObjectID;

/// An [`ObjectID`] as the unsigned number Vineyard sends (`#[serde(with = "wire::id")]`).
pub mod id {
    use super::*;

    /// Writes the id as a number.
    pub fn serialize<S: Serializer>(id: &ObjectID, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(id.0)
    }

    /// Reads a number as an id.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectID, D::Error> {
        u64::deserialize(deserializer).map(ObjectID)
    }
}

/// Ids as a list of numbers (`#[serde(with = "wire::ids")]`).
pub mod ids {
    use super::*;

    /// Writes the ids as numbers.
    pub fn serialize<S: Serializer>(ids: &[ObjectID], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(ids.iter().map(|id| id.0))
    }

    /// Reads a list of numbers as ids.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<ObjectID>, D::Error> {
        Vec::<u64>::deserialize(deserializer).map(|ids| ids.into_iter().map(ObjectID).collect())
    }
}

/// An optional id as a number (`#[serde(with = "wire::optional_id")]`).
pub mod optional_id {
    use super::*;

    /// Writes the id as a number, or `null`.
    pub fn serialize<S: Serializer>(
        id: &Option<ObjectID>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        id.map(|id| id.0).serialize(serializer)
    }

    /// Reads a number (or `null`) as an optional id.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<ObjectID>, D::Error> {
        Option::<u64>::deserialize(deserializer).map(|id| id.map(ObjectID))
    }
}

/// A JSON object that travels as `null` when empty, as Vineyard's `content`
/// (`#[serde(with = "wire::null_when_empty")]`).
pub mod null_when_empty {
    use super::*;

    /// Writes `null` for an empty map.
    pub fn serialize<S: Serializer>(
        map: &Map<String, Value>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        if map.is_empty() {
            serializer.serialize_unit()
        } else {
            map.serialize(serializer)
        }
    }

    /// Reads `null` (or an absent field, with `#[serde(default)]`) as an empty map.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Map<String, Value>, D::Error> {
        Option::<Map<String, Value>>::deserialize(deserializer).map(Option::unwrap_or_default)
    }
}
