//! Which calls are Flight SQL's: Flight SQL wraps its commands (in descriptors and tickets)
//! in a protobuf `Any` whose type is one of `arrow.flight.protocol.sql`'s messages, and names
//! its actions in CamelCase. Plain Flight tickets and descriptors (ids, names) are UTF-8
//! text and never start like an `Any`, and plain actions are snake_case, so the two never
//! mix. Compiled with or without the `sql` feature, so that a build without it can say so.

use std::path::PathBuf;

/// What the SQL service is made with (a build without the `sql` feature ignores it).
#[derive(Clone, Debug, Default)]
#[cfg_attr(not(feature = "sql"), allow(dead_code))]
pub(crate) struct SqlSetup {
    /// The instance's IPC socket.
    pub(crate) socket: PathBuf,
    /// The Flight token, which reads of other instances carry too.
    pub(crate) token: Option<String>,
    /// Bytes all queries may hold at once (`--sql_memory_limit`); `None`: no limit.
    pub(crate) memory_limit: Option<u64>,
}

/// The type URL prefix of Flight SQL's messages.
const SQL_TYPE_PREFIX: &[u8] = b"type.googleapis.com/arrow.flight.protocol.sql.";

/// Flight SQL's action types.
pub(crate) const SQL_ACTIONS: &[&str] = &[
    "CreatePreparedStatement",
    "ClosePreparedStatement",
    "CreatePreparedSubstraitPlan",
    "BeginTransaction",
    "EndTransaction",
    "BeginSavepoint",
    "EndSavepoint",
    "CancelQuery",
];

/// Whether `bytes` (a descriptor's command, a ticket, an action body) are a Flight SQL
/// message packed in an `Any`: field 1 (the type URL) comes first.
pub(crate) fn is_sql_command(bytes: &[u8]) -> bool {
    let [0x0a, rest @ ..] = bytes else {
        return false;
    };
    let Some((length, rest)) = varint(rest) else {
        return false;
    };
    rest.get(..length)
        .is_some_and(|url| url.starts_with(SQL_TYPE_PREFIX))
}

/// Whether `kind` is one of Flight SQL's actions.
pub(crate) fn is_sql_action(kind: &str) -> bool {
    SQL_ACTIONS.contains(&kind)
}

/// A protobuf varint (at most 4 bytes here: a type URL is short) and what follows it.
fn varint(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let mut value = 0usize;
    for (index, byte) in bytes.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[index + 1..]));
        }
    }
    None
}

/// What a build without the `sql` feature answers Flight SQL calls with.
#[cfg(not(feature = "sql"))]
pub(crate) fn not_served() -> tonic::Status {
    tonic::Status::unimplemented(
        "this instance was built without SQL (the `sql` feature of vineyard-flight-server): \
         it does not serve Flight SQL; plain Flight calls (tickets that are ids or names) work",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_flight_sql_commands() {
        let url = b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery";
        let mut any = vec![0x0a, url.len() as u8];
        any.extend_from_slice(url);
        any.extend_from_slice(&[0x12, 0x00]);
        assert!(is_sql_command(&any));
        assert!(!is_sql_command(b"o0000000000000001"));
        assert!(!is_sql_command(b"\ntype.googleapis.com/other.Message"));
        assert!(!is_sql_command(&[0x0a]));
        assert!(!is_sql_command(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff]));
        assert!(is_sql_action("CreatePreparedStatement"));
        assert!(!is_sql_action("get_meta"));
    }
}
