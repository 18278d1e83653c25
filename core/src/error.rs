//! The crate's one error type and the Vineyard status codes it travels as on the wire.

use std::path::PathBuf;

use crate::id::ObjectID;

/// Declares [`Code`] and [`STATUS_CODES`] from one table: variant, wire value, the name of the
/// Python exception class, and what the code means.
macro_rules! status_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $value:literal => $exception:literal,)+) => {
        /// Vineyard's status codes, as numbered on the wire (`{"code": 12, "message": ...}`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $($(#[doc = $doc])+ $variant,)+
            /// A code this crate does not name.
            Other(i64),
        }

        /// Every named status code: its wire value, the Python exception class it raises (as
        /// Vineyard's Python package names it) and what it means. The one table behind
        /// [`Code`], the Python exception classes and the Flight error mapping.
        pub const STATUS_CODES: &[StatusCode] = &[
            $(StatusCode {
                code: Code::$variant,
                value: $value,
                exception: $exception,
                doc: concat!($($doc),+),
            },)+
        ];

        impl Code {
            /// The numeric value on the wire.
            pub fn as_i64(self) -> i64 {
                match self {
                    $(Code::$variant => $value,)+
                    Code::Other(value) => value,
                }
            }

            /// The code for a numeric wire value.
            pub fn from_i64(value: i64) -> Code {
                match value {
                    $($value => Code::$variant,)+
                    other => Code::Other(other),
                }
            }
        }
    };
}

/// One row of [`STATUS_CODES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusCode {
    /// The code.
    pub code: Code,
    /// Its value on the wire.
    pub value: i64,
    /// The Python exception class raised for it (`""` for success).
    pub exception: &'static str,
    /// What it means.
    pub doc: &'static str,
}

status_codes! {
    /// Success.
    Ok = 0 => "",
    /// The request was malformed or not allowed.
    Invalid = 1 => "InvalidException",
    /// A key was missing.
    KeyError = 2 => "KeyErrorException",
    /// A value had the wrong type.
    TypeError = 3 => "TypeErrorException",
    /// An I/O operation failed.
    IoError = 4 => "IOErrorException",
    /// A stream or file ended early.
    EndOfFile = 5 => "EndOfFileException",
    /// The feature is not implemented.
    NotImplemented = 6 => "NotImplementedException",
    /// An internal consistency check failed, or a request broke one of Vineyard's rules.
    AssertionFailed = 7 => "AssertionFailedException",
    /// The user passed bad input.
    UserInputError = 8 => "UserInputErrorException",
    /// The object exists already.
    ObjectExists = 11 => "ObjectExistsException",
    /// The object does not exist.
    ObjectNotExists = 12 => "ObjectNotExistsException",
    /// The object is sealed and can no longer be written.
    ObjectSealed = 13 => "ObjectSealedException",
    /// The object is not sealed yet.
    ObjectNotSealed = 14 => "ObjectNotSealedException",
    /// The operation does not apply to blobs.
    ObjectIsBlob = 15 => "ObjectIsBlobException",
    /// The object has another type than the one asked for.
    ObjectTypeError = 16 => "ObjectTypeErrorException",
    /// The object's payload is spilled to disk.
    ObjectSpilled = 17 => "ObjectSpilledException",
    /// The object's payload is not spilled.
    ObjectNotSpilled = 18 => "ObjectNotSpilledException",
    /// The metadata tree is invalid.
    MetaTreeInvalid = 21 => "MetaTreeInvalidException",
    /// A typename in the metadata tree is invalid.
    MetaTreeTypeInvalid = 22 => "MetaTreeTypeInvalidException",
    /// The metadata tree has no typename.
    MetaTreeTypeNotExists = 23 => "MetaTreeTypeNotExistsException",
    /// A member name in the metadata tree is invalid.
    MetaTreeNameInvalid = 24 => "MetaTreeNameInvalidException",
    /// A member of a metadata tree has no id.
    MetaTreeNameNotExists = 25 => "MetaTreeNameNotExistsException",
    /// A link in the metadata tree is invalid.
    MetaTreeLinkInvalid = 26 => "MetaTreeLinkInvalidException",
    /// The object's subtree is missing.
    MetaTreeSubtreeNotExists = 27 => "MetaTreeSubtreeNotExistsException",
    /// The server is not ready yet.
    VineyardServerNotReady = 31 => "VineyardServerNotReadyException",
    /// Arrow failed.
    ArrowError = 32 => "ArrowErrorException",
    /// Connecting to the server failed.
    ConnectionFailed = 33 => "ConnectionFailedException",
    /// The connection broke.
    ConnectionError = 34 => "ConnectionErrorException",
    /// The metadata service (etcd) failed.
    EtcdError = 35 => "EtcdErrorException",
    /// The service has stopped already.
    AlreadyStopped = 36 => "AlreadyStoppedException",
    /// The metadata service (redis) failed.
    RedisError = 37 => "RedisErrorException",
    /// The bulk store is full.
    NotEnoughMemory = 41 => "NotEnoughMemoryException",
    /// A stream has no more chunks.
    StreamDrained = 42 => "StreamDrainedException",
    /// A stream failed.
    StreamFailed = 43 => "StreamFailedException",
    /// A stream is in the wrong state for the operation.
    InvalidStreamState = 44 => "InvalidStreamStateException",
    /// A stream is open already.
    StreamOpened = 45 => "StreamOpenedException",
    /// A global object is malformed.
    GlobalObjectInvalid = 51 => "GlobalObjectInvalidException",
    /// Anything else.
    UnknownError = 255 => "UnknownErrorException",
}

impl Code {
    /// The row of [`STATUS_CODES`] for this code (`UnknownError`'s for codes it lacks).
    pub fn status(self) -> &'static StatusCode {
        STATUS_CODES
            .iter()
            .find(|row| row.code == self)
            .unwrap_or_else(|| {
                STATUS_CODES
                    .iter()
                    .find(|row| row.code == Code::UnknownError)
                    .expect("the table has UnknownError")
            })
    }
}

/// Everything that can go wrong in the store, the protocol, the server or the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No object or blob has this id.
    #[error("object {id} not found")]
    ObjectNotExists {
        /// The id that was asked for.
        id: ObjectID,
    },
    /// No object is registered under this name.
    #[error("name `{name}` not found")]
    NameNotExists {
        /// The name that was asked for.
        name: String,
    },
    /// The bulk store cannot hold the requested buffer.
    #[error(
        "not enough memory: requested {requested} bytes but the largest free range holds \
         {available} bytes; delete objects or start the server with a larger --size"
    )]
    NotEnoughMemory {
        /// Bytes asked for.
        requested: u64,
        /// The largest free range at the time: the most one buffer could get.
        available: u64,
    },
    /// The bulk store is full and spilling cold blobs to `--spill_path` could not make room.
    #[error(
        "not enough memory: requested {requested} bytes but the largest free range holds \
         {available} bytes, and spilling cold blobs could not make room: {reason}"
    )]
    SpillFailed {
        /// Bytes asked for.
        requested: u64,
        /// The largest free range at the time.
        available: u64,
        /// Why spilling did not help, and what to do.
        reason: String,
    },
    /// A blob was spilled to `--spill_path` and cannot be read back.
    #[error(
        "blob {id} was spilled to {} and cannot be read back: {reason}; its data is lost, \
         delete the objects that use it", path.display()
    )]
    SpilledBlobLost {
        /// The blob.
        id: ObjectID,
        /// Its spill file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The blob exists but has not been sealed by its writer yet.
    #[error("blob {id} is not sealed yet; seal it before reading it")]
    ObjectNotSealed {
        /// The unsealed blob.
        id: ObjectID,
    },
    /// A connection acted on an unsealed buffer that another connection created: only a
    /// buffer's writer may seal, shrink or drop it.
    #[error(
        "cannot {action} blob {id}: it is an unsealed buffer another connection created, and \
         only the connection that created a buffer may seal, shrink or drop it"
    )]
    NotOwner {
        /// The buffer.
        id: ObjectID,
        /// What was asked (`seal`, `shrink`, `drop`).
        action: &'static str,
    },
    /// An operation for buffers being written met a sealed blob.
    #[error("cannot {action} blob {id}: it is sealed and can no longer change; {hint}")]
    ObjectSealed {
        /// The blob.
        id: ObjectID,
        /// What was asked (`shrink`, `drop`).
        action: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// An operation for sealed objects met a buffer its writer has not sealed yet.
    #[error(
        "cannot {action} blob {id}: it is a buffer its writer has not sealed yet; the \
         connection that created it seals or aborts it"
    )]
    UnsealedBuffer {
        /// The buffer.
        id: ObjectID,
        /// What was asked (`delete`).
        action: &'static str,
    },
    /// A request would go past one of the instance's limits (set by a flag).
    #[error("{what} limit of {limit}; split the data or start the server with a larger {flag}")]
    LimitExceeded {
        /// What went past the limit.
        what: String,
        /// The limit.
        limit: u64,
        /// The flag that sets it.
        flag: &'static str,
        /// True for a limit on what the instance holds in all (it fills up), false for one
        /// on a single request.
        total: bool,
    },
    /// The request was well-formed JSON but asked for something invalid.
    #[error("{message}")]
    Invalid {
        /// What was wrong and what to do.
        message: String,
    },
    /// A metadata tree broke the rules (no typename, bad member, ...).
    #[error("invalid metadata: {message}")]
    InvalidMetadata {
        /// What was wrong.
        message: String,
    },
    /// A request broke one of Vineyard's rules (e.g. persisting a blob).
    #[error("{message}")]
    AssertionFailed {
        /// What was wrong and what to do.
        message: String,
    },
    /// The object whose subtree was asked for does not exist (persist, if_persist).
    #[error("get subtree failed: object {id} not found")]
    SubtreeNotExists {
        /// The id that was asked for.
        id: ObjectID,
    },
    /// The cluster metadata service cannot be reached or refused the operation.
    #[error(
        "cluster metadata unavailable ({message}); local objects keep working and the \
         instance reconnects by itself"
    )]
    Cluster {
        /// What failed.
        message: String,
    },
    /// The operation is not supported by this build or backend.
    #[error("not implemented: {what}")]
    NotImplemented {
        /// The unsupported operation.
        what: String,
    },
    /// An error reply from a server, with its Vineyard code.
    #[error("server error (code {}): {message}", code.as_i64())]
    Server {
        /// The status code in the reply.
        code: Code,
        /// The server's message.
        message: String,
    },
    /// A frame header announced more bytes than the peer accepts.
    #[error(
        "a message of {size} bytes exceeds the limit of {limit} bytes (a server sets it with \
         --max_request_size); send large data as blobs"
    )]
    FrameTooLarge {
        /// Announced frame length.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The peer sent bytes that do not follow the protocol.
    #[error("protocol error: {message}")]
    Protocol {
        /// What was wrong with the bytes.
        message: String,
    },
    /// The client could not connect to the server's socket.
    #[error("cannot connect to vineyard at {}: {source}; is vineyardd running there?", socket.display())]
    ConnectionFailed {
        /// The socket path tried.
        socket: PathBuf,
        /// Why the connection failed.
        source: std::io::Error,
    },
    /// The server closed the connection or went away.
    #[error("connection to vineyard lost: {message}; reconnect to continue")]
    ConnectionLost {
        /// What happened.
        message: String,
    },
    /// Any other I/O failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The Vineyard status code this error travels as.
    pub fn code(&self) -> Code {
        match self {
            Error::ObjectNotExists { .. } | Error::NameNotExists { .. } => Code::ObjectNotExists,
            Error::NotEnoughMemory { .. } | Error::SpillFailed { .. } => Code::NotEnoughMemory,
            Error::SpilledBlobLost { .. } => Code::IoError,
            Error::ObjectNotSealed { .. } | Error::UnsealedBuffer { .. } => Code::ObjectNotSealed,
            Error::ObjectSealed { .. } => Code::ObjectSealed,
            Error::NotOwner { .. } => Code::Invalid,
            Error::LimitExceeded { total: true, .. } => Code::NotEnoughMemory,
            Error::LimitExceeded { total: false, .. } => Code::Invalid,
            Error::Invalid { .. } | Error::FrameTooLarge { .. } | Error::Protocol { .. } => {
                Code::Invalid
            }
            Error::InvalidMetadata { .. } => Code::MetaTreeInvalid,
            Error::AssertionFailed { .. } => Code::AssertionFailed,
            Error::SubtreeNotExists { .. } => Code::MetaTreeSubtreeNotExists,
            Error::NotImplemented { .. } => Code::NotImplemented,
            Error::Cluster { .. } => Code::EtcdError,
            Error::Server { code, .. } => *code,
            Error::ConnectionFailed { .. } => Code::ConnectionFailed,
            Error::ConnectionLost { .. } => Code::ConnectionError,
            Error::Io(_) => Code::IoError,
        }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid {
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::AssertionFailed`].
    pub fn assertion(message: impl Into<String>) -> Error {
        Error::AssertionFailed {
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::InvalidMetadata`].
    pub fn invalid_metadata(message: impl Into<String>) -> Error {
        Error::InvalidMetadata {
            message: message.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_code_table_is_one_to_one() {
        let mut values = HashSet::new();
        let mut exceptions = HashSet::new();
        for row in STATUS_CODES {
            assert_eq!(row.code.as_i64(), row.value);
            assert_eq!(Code::from_i64(row.value), row.code);
            assert_eq!(row.code.status(), row);
            assert!(values.insert(row.value), "{} twice", row.value);
            assert!(!row.doc.is_empty());
            if row.code != Code::Ok {
                assert!(row.exception.ends_with("Exception"), "{}", row.exception);
                assert!(exceptions.insert(row.exception), "{}", row.exception);
            }
        }
        assert_eq!(Code::from_i64(200), Code::Other(200));
        assert_eq!(Code::Other(200).status().code, Code::UnknownError);
    }
}
