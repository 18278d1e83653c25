//! Replies about names.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{empty_replies, wire, Reply};
use crate::id::ObjectID;

/// `get_name_reply`: the object a name points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetNameReply {
    /// The object.
    #[serde(with = "wire::id")]
    pub object_id: ObjectID,
}

impl Reply for GetNameReply {
    const TYPE: &'static str = "get_name_reply";
}

/// `list_name_reply`: names and the objects they point at (ids as numbers).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListNameReply {
    /// How many names.
    #[serde(default)]
    pub size: usize,
    /// Name to object id.
    #[serde(default)]
    pub names: Map<String, Value>,
}

impl ListNameReply {
    /// The reply listing `names`.
    pub fn new(names: impl IntoIterator<Item = (String, ObjectID)>) -> ListNameReply {
        let names: Map<String, Value> = names
            .into_iter()
            .map(|(name, id)| (name, Value::from(id.0)))
            .collect();
        ListNameReply {
            size: names.len(),
            names,
        }
    }

    /// The names and their objects.
    pub fn into_names(self) -> Vec<(String, ObjectID)> {
        self.names
            .into_iter()
            .filter_map(|(name, id)| Some((name, ObjectID(id.as_u64()?))))
            .collect()
    }
}

impl Reply for ListNameReply {
    const TYPE: &'static str = "list_name_reply";
}

empty_replies! {
    /// `put_name_reply`: the name points at the object.
    PutNameReply = "put_name_reply";
    /// `drop_name_reply`: the name is gone.
    DropNameReply = "drop_name_reply";
}
