//! Statement handles: what a ticket or a prepared statement carries.
//!
//! Handles are self-contained (the query text and the bound parameters), so the service keeps
//! no state per statement: nothing to leak when a client never closes one, and any instance
//! restart leaves handles valid. Binding parameters (`do_put` of a prepared statement) returns
//! a new handle with them, as Flight SQL allows. A handle is only what a client sends back;
//! the query in it is checked again like any other.
//!
//! Layout: a kind byte; for a query, the query's length (u32, little-endian), its UTF-8
//! bytes, then the parameters as an Arrow IPC stream of one batch (absent without any). The
//! layout of a query without parameters is public (PROTOCOL.md §9): clients make its ticket
//! themselves (Python's `client.sql`) to plan and run a query in one `DoGet`.

use std::io::Cursor;

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use bytes::Bytes;

use crate::error::{Error, Result};

const DONE: u8 = 0;
const QUERY: u8 = 1;

/// What a statement handle stands for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Handle {
    /// A statement that ran already (a `CREATE TABLE ... AS`): no rows.
    Done,
    /// A query, with its parameters once bound.
    Query {
        query: String,
        parameters: Option<RecordBatch>,
    },
}

impl Handle {
    /// A query without parameters.
    pub(crate) fn query(query: impl Into<String>) -> Handle {
        Handle::Query {
            query: query.into(),
            parameters: None,
        }
    }

    pub(crate) fn encode(&self) -> Result<Bytes> {
        let Handle::Query { query, parameters } = self else {
            return Ok(Bytes::from_static(&[DONE]));
        };
        let length = u32::try_from(query.len())
            .map_err(|_| Error::invalid("a query of 4 GiB or more cannot be a statement"))?;
        let mut bytes = Vec::with_capacity(5 + query.len());
        bytes.push(QUERY);
        bytes.extend_from_slice(&length.to_le_bytes());
        bytes.extend_from_slice(query.as_bytes());
        if let Some(batch) = parameters {
            let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema())?;
            writer.write(batch)?;
            writer.finish()?;
        }
        Ok(bytes.into())
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Handle> {
        let malformed = || {
            Error::invalid(
                "malformed statement handle: send back the handle (or ticket) this service \
                 gave, unchanged",
            )
        };
        match bytes.split_first() {
            Some((&DONE, [])) => Ok(Handle::Done),
            Some((&QUERY, rest)) if rest.len() >= 4 => {
                let (length, rest) = rest.split_at(4);
                let length = u32::from_le_bytes(length.try_into().map_err(|_| malformed())?);
                let length = usize::try_from(length).map_err(|_| malformed())?;
                if rest.len() < length {
                    return Err(malformed());
                }
                let (query, rest) = rest.split_at(length);
                let query = std::str::from_utf8(query)
                    .map_err(|_| malformed())?
                    .to_string();
                let parameters = if rest.is_empty() {
                    None
                } else {
                    let mut reader =
                        StreamReader::try_new(Cursor::new(rest), None).map_err(|_| malformed())?;
                    Some(
                        reader
                            .next()
                            .ok_or_else(malformed)?
                            .map_err(|_| malformed())?,
                    )
                };
                Ok(Handle::Query { query, parameters })
            }
            _ => Err(malformed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};

    use super::*;

    #[test]
    fn handles_round_trip() {
        let parameters = RecordBatch::try_from_iter([
            ("a", Arc::new(Int64Array::from(vec![7])) as _),
            ("b", Arc::new(StringArray::from(vec!["x"])) as _),
        ])
        .unwrap();
        for handle in [
            Handle::Done,
            Handle::query("SELECT 1"),
            Handle::Query {
                query: "SELECT $1, $2".into(),
                parameters: Some(parameters),
            },
        ] {
            let bytes = handle.encode().unwrap();
            assert_eq!(Handle::decode(&bytes).unwrap(), handle);
        }
    }

    #[test]
    fn malformed_handles_are_refused() {
        for bytes in [
            &b""[..],
            b"\x07",
            b"\x01\x05\x00\x00\x00ab",
            b"\x01\x00\x00\x00\x00junk",
        ] {
            let error = Handle::decode(bytes).unwrap_err();
            assert!(
                error.to_string().contains("malformed statement handle"),
                "{error}"
            );
        }
    }
}
