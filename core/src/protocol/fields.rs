//! Typed access to the fields of a JSON message, with errors that name the field and the fix.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::id::ObjectID;
use crate::protocol::frame::kind_of;

/// A message's fields, read on behalf of one message type (named in every error).
pub struct Fields<'a> {
    kind: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// Wraps the fields of a message of type `kind`.
    pub fn new(kind: &'a str, map: &'a Map<String, Value>) -> Fields<'a> {
        Fields { kind, map }
    }

    fn wrong(&self, key: &str, expected: &str, value: &Value) -> Error {
        Error::invalid(format!(
            "{}: field `{key}` must be {expected}, got {} ({value})",
            self.kind,
            kind_of(value)
        ))
    }

    fn missing(&self, key: &str, expected: &str) -> Error {
        Error::invalid(format!("{}: missing field `{key}` ({expected})", self.kind))
    }

    /// A raw field.
    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    /// A required unsigned integer.
    pub fn u64(&self, key: &str) -> Result<u64> {
        self.opt_u64(key)?
            .ok_or_else(|| self.missing(key, "an unsigned integer"))
    }

    /// An optional unsigned integer.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "an unsigned integer", value)),
        }
    }

    /// A required object id (an unsigned integer, or `"o..."` text).
    pub fn id(&self, key: &str) -> Result<ObjectID> {
        let value = self
            .map
            .get(key)
            .ok_or_else(|| self.missing(key, "an object id"))?;
        self.id_of(key, value)
    }

    /// An optional object id.
    pub fn opt_id(&self, key: &str) -> Result<Option<ObjectID>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => self.id_of(key, value).map(Some),
        }
    }

    fn id_of(&self, key: &str, value: &Value) -> Result<ObjectID> {
        match value {
            Value::Number(number) => number
                .as_u64()
                .map(ObjectID)
                .ok_or_else(|| self.wrong(key, "an object id", value)),
            Value::String(text) => text.parse(),
            _ => Err(self.wrong(key, "an object id", value)),
        }
    }

    /// A list of ids: an array, or a single id (Vineyard sends both forms).
    pub fn ids(&self, key: &str) -> Result<Vec<ObjectID>> {
        match self.map.get(key) {
            None => Err(self.missing(key, "a list of object ids")),
            Some(Value::Array(items)) => items.iter().map(|item| self.id_of(key, item)).collect(),
            Some(value) => Ok(vec![self.id_of(key, value)?]),
        }
    }

    /// Ids under numbered keys `"0"`..`"num-1"`, as Vineyard's `get_buffers_request`.
    pub fn numbered_ids(&self) -> Result<Vec<ObjectID>> {
        let count = self.u64("num")?;
        if count > self.map.len() as u64 {
            return Err(Error::invalid(format!(
                "{}: `num` is {count} but the message has only {} fields",
                self.kind,
                self.map.len()
            )));
        }
        (0..count)
            .map(|index| self.id(&index.to_string()))
            .collect()
    }

    /// A boolean, `default` when missing.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(value) => Err(self.wrong(key, "a boolean", value)),
        }
    }

    /// A required string.
    pub fn string(&self, key: &str) -> Result<String> {
        match self.map.get(key) {
            None => Err(self.missing(key, "a string")),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(value) => Err(self.wrong(key, "a string", value)),
        }
    }

    /// Required bytes, sent as hex text.
    pub fn hex_bytes(&self, key: &str) -> Result<Vec<u8>> {
        match self.map.get(key) {
            None => Err(self.missing(key, "hex text")),
            Some(Value::String(text)) => super::hex::decode(text).ok_or_else(|| {
                Error::invalid(format!(
                    "{}: field `{key}` must be hex text (two digits per byte)",
                    self.kind
                ))
            }),
            Some(value) => Err(self.wrong(key, "hex text", value)),
        }
    }

    /// A string, `default` when missing.
    pub fn string_or(&self, key: &str, default: &str) -> Result<String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(_) => self.string(key),
        }
    }

    /// A required JSON object.
    pub fn object(&self, key: &str) -> Result<Map<String, Value>> {
        match self.map.get(key) {
            None => Err(self.missing(key, "a JSON object")),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(value) => Err(self.wrong(key, "a JSON object", value)),
        }
    }

    /// A required array of JSON objects.
    pub fn objects(&self, key: &str) -> Result<Vec<Map<String, Value>>> {
        match self.map.get(key) {
            None => Err(self.missing(key, "an array of JSON objects")),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::Object(map) => Ok(map.clone()),
                    other => Err(self.wrong(key, "an array of JSON objects", other)),
                })
                .collect(),
            Some(value) => Err(self.wrong(key, "an array of JSON objects", value)),
        }
    }

    /// A required array of unsigned integers.
    pub fn u64_list(&self, key: &str) -> Result<Vec<u64>> {
        match self.map.get(key) {
            None => Err(self.missing(key, "an array of unsigned integers")),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_u64()
                        .ok_or_else(|| self.wrong(key, "an array of unsigned integers", item))
                })
                .collect(),
            Some(value) => Err(self.wrong(key, "an array of unsigned integers", value)),
        }
    }
}
