//! What tickets and flight descriptors name.
//!
//! - `o0123456789abcdef` (`o` and 16 hex digits): an object by id;
//! - `blob:o0123456789abcdef`: a blob's bytes, as rows of one binary column `value`;
//! - anything else: an object by name.
//!
//! A descriptor names the same with a one-element path, or with its command bytes.

use std::fmt;

use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::FlightDescriptor;
use vineyard_core::{IpcClient, ObjectID};

use crate::error::{Error, Result};

/// The ticket prefix that asks for a blob's raw bytes.
pub const BLOB_PREFIX: &str = "blob:";

/// An object named by id or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// By id.
    Id(ObjectID),
    /// By name (names point at persisted objects).
    Name(String),
}

/// What a `do_get` ticket asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketRequest {
    /// An object as Arrow record batches.
    Object(Target),
    /// A blob's bytes.
    Blob(ObjectID),
}

/// Parses `o` followed by exactly 16 hex digits, the form object ids are printed in.
pub fn parse_object_id(text: &str) -> Option<ObjectID> {
    let hex = text.strip_prefix('o')?;
    if hex.len() != 16 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(ObjectID)
}

impl Target {
    /// An id if the text is one, otherwise a name.
    pub fn parse(text: &str) -> Result<Target> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::invalid(
                "empty object reference: give an object id (`o` and 16 hex digits) or a name",
            ));
        }
        Ok(match parse_object_id(text) {
            Some(id) => Target::Id(id),
            None => Target::Name(text.to_string()),
        })
    }

    /// The target a flight descriptor names: a one-element path, or command bytes.
    pub fn from_descriptor(descriptor: &FlightDescriptor) -> Result<Target> {
        match descriptor.r#type() {
            DescriptorType::Path => match descriptor.path.as_slice() {
                [one] => Target::parse(one),
                path => Err(Error::invalid(format!(
                    "a descriptor path names one object (an id or a name), got {} elements",
                    path.len()
                ))),
            },
            DescriptorType::Cmd => Target::parse(utf8(&descriptor.cmd, "descriptor command")?),
            DescriptorType::Unknown => Err(Error::invalid(
                "the flight descriptor has no type: use a path [id or name]",
            )),
        }
    }

    /// The id this target stands for now (names are looked up without waiting).
    pub fn resolve_id(&self, client: &IpcClient) -> Result<ObjectID> {
        match self {
            Target::Id(id) => Ok(*id),
            Target::Name(name) => client.get_name(name, false).map_err(|error| match error {
                vineyard_core::Error::Server {
                    code: vineyard_core::Code::ObjectNotExists,
                    ..
                } => Error::Core(vineyard_core::Error::NameNotExists { name: name.clone() }),
                other => Error::Core(other),
            }),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Id(id) => write!(f, "{id}"),
            Target::Name(name) => f.write_str(name),
        }
    }
}

impl TicketRequest {
    /// Parses a `do_get` ticket.
    pub fn parse(ticket: &[u8]) -> Result<TicketRequest> {
        let text = utf8(ticket, "ticket")?.trim();
        match text.strip_prefix(BLOB_PREFIX) {
            Some(rest) => parse_object_id(rest.trim())
                .filter(|id| id.is_blob())
                .map(TicketRequest::Blob)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "ticket `{text}` does not name a blob: expected `blob:o8...` with a blob id"
                    ))
                }),
            None => Target::parse(text).map(TicketRequest::Object),
        }
    }
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| {
        Error::invalid(format!(
            "the {what} is not UTF-8 text: give an object id (`o` and 16 hex digits) or a name"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_blobs() {
        assert_eq!(
            Target::parse("o00000000000000ff").unwrap(),
            Target::Id(ObjectID(255))
        );
        assert_eq!(
            Target::parse(" table ").unwrap(),
            Target::Name("table".into())
        );
        // Short hex is a name: only the printed id form is an id.
        assert_eq!(
            Target::parse("oface").unwrap(),
            Target::Name("oface".into())
        );
        assert!(Target::parse("  ").is_err());
        assert_eq!(
            TicketRequest::parse(b"blob:o8000000000000001").unwrap(),
            TicketRequest::Blob(ObjectID(0x8000000000000001))
        );
        assert!(TicketRequest::parse(b"blob:o0000000000000001").is_err());
        assert!(TicketRequest::parse(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn descriptors() {
        let path = FlightDescriptor::new_path(vec!["name".into()]);
        assert_eq!(
            Target::from_descriptor(&path).unwrap(),
            Target::Name("name".into())
        );
        let two = FlightDescriptor::new_path(vec!["a".into(), "b".into()]);
        assert!(Target::from_descriptor(&two).is_err());
        let cmd = FlightDescriptor::new_cmd("o0000000000000001");
        assert_eq!(
            Target::from_descriptor(&cmd).unwrap(),
            Target::Id(ObjectID(1))
        );
    }
}
