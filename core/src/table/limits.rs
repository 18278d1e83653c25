//! Bounds on metadata, so that no client can grow the server's heap without limit: bytes per
//! object, bytes in all (counted and reported in `status`), name length and members per
//! object. Each has a flag; exceeding one is an error that names it.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The metadata limits of an instance (see the `--max_*` flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one object's own tree, members as links (`--max_object_metadata`).
    pub object_metadata: u64,
    /// Bytes of all metadata the instance keeps: its objects, other instances' objects it
    /// knows, names (`--max_metadata`).
    pub metadata: u64,
    /// Bytes of a name (`--max_name_length`).
    pub name_length: usize,
    /// Members of one object (`--max_members`).
    pub members: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            object_metadata: 16 << 20,
            metadata: 1 << 30,
            name_length: 4096,
            members: 1 << 17,
        }
    }
}

/// Bytes a name is counted as (its text and the map entry that holds it).
pub(super) fn name_bytes(name: &str) -> u64 {
    name.len() as u64 + 32
}

/// Bytes a tree is counted as: about its length as JSON text, plus the entry that holds it.
pub(super) fn tree_bytes(tree: &Map<String, Value>) -> u64 {
    fn value_bytes(value: &Value) -> u64 {
        match value {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 12,
            Value::String(text) => text.len() as u64 + 2,
            Value::Array(items) => 2 + items.iter().map(value_bytes).sum::<u64>(),
            Value::Object(map) => map_bytes(map),
        }
    }
    fn map_bytes(map: &Map<String, Value>) -> u64 {
        2 + map
            .iter()
            .map(|(key, value)| key.len() as u64 + 4 + value_bytes(value))
            .sum::<u64>()
    }
    map_bytes(tree) + 64
}

impl Limits {
    /// Checks a new object's tree (`bytes` counted, `members` of them) against the limits,
    /// with `in_use` bytes of metadata held already.
    pub(super) fn check_object(
        &self,
        typename: &str,
        bytes: u64,
        members: usize,
        in_use: u64,
    ) -> Result<()> {
        if members > self.members {
            return Err(Error::LimitExceeded {
                what: format!("`{typename}` has {members} members"),
                limit: self.members as u64,
                flag: "--max_members",
                total: false,
            });
        }
        if bytes > self.object_metadata {
            return Err(Error::LimitExceeded {
                what: format!("the metadata of `{typename}` takes {bytes} bytes"),
                limit: self.object_metadata,
                flag: "--max_object_metadata",
                total: false,
            });
        }
        self.check_total(bytes, in_use)
    }

    /// Checks that `bytes` more metadata fit beside the `in_use` bytes held already.
    pub(super) fn check_total(&self, bytes: u64, in_use: u64) -> Result<()> {
        if in_use.saturating_add(bytes) > self.metadata {
            return Err(Error::LimitExceeded {
                what: format!(
                    "{bytes} more bytes of metadata, with {in_use} bytes held already, \
                     exceed the instance's"
                ),
                limit: self.metadata,
                flag: "--max_metadata",
                total: true,
            });
        }
        Ok(())
    }

    /// Checks a new name.
    pub(super) fn check_name(&self, name: &str) -> Result<()> {
        if name.len() > self.name_length {
            return Err(Error::LimitExceeded {
                what: format!("a name of {} bytes", name.len()),
                limit: self.name_length as u64,
                flag: "--max_name_length",
                total: false,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_bytes_follow_the_json_length() {
        let tree: Map<String, Value> = serde_json::from_str(
            r#"{"typename": "vineyard::Tensor<double>", "shape_": "[1000]", "nested": {"a": [1, 2, "xyz"]}}"#,
        )
        .unwrap();
        let text = serde_json::to_string(&tree).unwrap().len() as u64;
        let counted = tree_bytes(&tree) - 64;
        assert!(counted >= text && counted < text * 2, "{counted} vs {text}");
    }

    #[test]
    fn errors_name_the_flag() {
        let limits = Limits {
            object_metadata: 100,
            metadata: 1000,
            name_length: 3,
            members: 2,
        };
        let message = limits.check_object("t", 101, 1, 0).unwrap_err().to_string();
        assert!(message.contains("--max_object_metadata"), "{message}");
        let message = limits.check_object("t", 10, 3, 0).unwrap_err().to_string();
        assert!(message.contains("--max_members"), "{message}");
        let error = limits.check_object("t", 10, 1, 995).unwrap_err();
        assert!(error.to_string().contains("--max_metadata"), "{error}");
        assert_eq!(error.code(), crate::Code::NotEnoughMemory);
        let message = limits.check_name("long").unwrap_err().to_string();
        assert!(message.contains("--max_name_length"), "{message}");
        assert!(limits.check_object("t", 100, 2, 900).is_ok());
    }
}
