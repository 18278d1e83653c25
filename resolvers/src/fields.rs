//! Reading a tree's plain fields and members, tolerant of the spellings writers use (numbers
//! as JSON numbers or as text, JSON-valued fields as JSON text or as JSON).

use serde_json::Value;
use vineyard_core::ObjectMeta;

use crate::error::{typename_of, Error, Result};

/// The member `name`.
pub(crate) fn member<'a>(meta: &'a ObjectMeta, name: &str) -> Result<&'a ObjectMeta> {
    meta.member_ref(name).ok_or_else(|| Error::MissingMember {
        typename: typename_of(meta).into(),
        id: meta.id(),
        member: name.into(),
    })
}

/// A non-negative integer field, if present.
pub(crate) fn optional_usize(meta: &ObjectMeta, field: &str) -> Result<Option<usize>> {
    let parsed = match meta.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
        Some(Value::Bool(_)) | Some(Value::Array(_)) | Some(Value::Object(_)) => None,
    };
    match parsed.and_then(|value| usize::try_from(value).ok()) {
        Some(value) => Ok(Some(value)),
        None => Err(Error::invalid_field(
            meta,
            field,
            format!(
                "should be a non-negative integer, got {}",
                meta.get(field).unwrap()
            ),
        )),
    }
}

/// A non-negative integer field that must be present.
pub(crate) fn usize_field(meta: &ObjectMeta, field: &str) -> Result<usize> {
    optional_usize(meta, field)?.ok_or_else(|| Error::invalid_field(meta, field, "is missing"))
}

/// The first of `fields` present, as a non-negative integer.
pub(crate) fn usize_of_any(meta: &ObjectMeta, fields: &[&str]) -> Result<usize> {
    for field in fields {
        if let Some(value) = optional_usize(meta, field)? {
            return Ok(value);
        }
    }
    Err(Error::invalid_field(meta, fields[0], "is missing"))
}

/// A text field, if present.
pub(crate) fn optional_str<'a>(meta: &'a ObjectMeta, field: &str) -> Result<Option<&'a str>> {
    match meta.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(Error::invalid_field(
            meta,
            field,
            format!("should be text, got {other}"),
        )),
    }
}

/// A JSON-valued field: Vineyard stores these as JSON text (`"[2, 3]"`), some writers as JSON.
pub(crate) fn json_field(meta: &ObjectMeta, field: &str) -> Result<Option<Value>> {
    match meta.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => serde_json::from_str(text)
            .map(Some)
            .or_else(|_| Ok(Some(Value::String(text.clone())))),
        Some(other) => Ok(Some(other.clone())),
    }
}
