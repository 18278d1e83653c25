//! What tickets and flight descriptors name.
//!
//! - `o0123456789abcdef` (`o` and 16 hex digits): an object by id;
//! - `blob:o0123456789abcdef`: a blob's bytes, as rows of one binary column `value`, of
//!   [`BLOB_CHUNK`] bytes each or, with `?chunk=N`, of `N` (a client that accepts large
//!   messages receives a blob of up to `N` bytes whole, in one message);
//! - anything else: an object by name.
//!
//! A descriptor names the same with a one-element path, or with its command bytes.

use std::fmt;

use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::FlightDescriptor;
use vineyard_core::{IpcClient, ObjectID};

use crate::error::{Error, Result};
use crate::objects::BLOB_CHUNK;

/// The ticket prefix that asks for a blob's raw bytes.
pub const BLOB_PREFIX: &str = "blob:";

/// The bytes per row a blob ticket may ask for (`?chunk=N`), least and most.
pub const BLOB_CHUNK_RANGE: std::ops::RangeInclusive<usize> = (64 << 10)..=(1 << 30);

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
    /// A blob's bytes, in rows of `chunk` bytes.
    Blob {
        /// The blob.
        id: ObjectID,
        /// Bytes per row (the last one shorter).
        chunk: usize,
    },
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
            Some(rest) => parse_blob(text, rest.trim()),
            None => Target::parse(text).map(TicketRequest::Object),
        }
    }
}

/// `o8...` or `o8...?chunk=N` after `blob:` in the ticket `text`.
fn parse_blob(text: &str, rest: &str) -> Result<TicketRequest> {
    let (id, chunk) = match rest.split_once('?') {
        Some((id, query)) => (id, Some(query)),
        None => (rest, None),
    };
    let id = parse_object_id(id)
        .filter(|id| id.is_blob())
        .ok_or_else(|| {
            Error::invalid(format!(
                "ticket `{text}` does not name a blob: expected `blob:o8...` with a blob id"
            ))
        })?;
    let chunk = match chunk {
        None => BLOB_CHUNK,
        Some(query) => query
            .strip_prefix("chunk=")
            .and_then(|bytes| bytes.parse::<usize>().ok())
            .filter(|bytes| BLOB_CHUNK_RANGE.contains(bytes))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "ticket `{text}`: after the blob id, `?chunk=N` asks for rows of N bytes, \
                     N from {} to {}",
                    BLOB_CHUNK_RANGE.start(),
                    BLOB_CHUNK_RANGE.end()
                ))
            })?,
    };
    Ok(TicketRequest::Blob { id, chunk })
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
        let blob = |chunk| TicketRequest::Blob {
            id: ObjectID(0x8000000000000001),
            chunk,
        };
        assert_eq!(
            TicketRequest::parse(b"blob:o8000000000000001").unwrap(),
            blob(BLOB_CHUNK)
        );
        assert_eq!(
            TicketRequest::parse(b"blob:o8000000000000001?chunk=67108864").unwrap(),
            blob(64 << 20)
        );
        for bad in [
            "?chunk=1",
            "?chunk=2147483648",
            "?chunk=",
            "?size=65536",
            "?",
        ] {
            let ticket = format!("blob:o8000000000000001{bad}");
            let error = TicketRequest::parse(ticket.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(error.contains("?chunk=N"), "{ticket}: {error}");
        }
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
