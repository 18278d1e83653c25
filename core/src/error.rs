//! The crate's one error type and the Vineyard status codes it travels as on the wire.

use std::path::PathBuf;

use crate::id::ObjectID;

/// Vineyard's status codes, as numbered on the wire (`{"code": 12, "message": ...}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// Success.
    Ok,
    /// The request was malformed or not allowed.
    Invalid,
    /// A key was missing.
    KeyError,
    /// A value had the wrong type.
    TypeError,
    /// An I/O operation failed.
    IoError,
    /// The feature is not implemented.
    NotImplemented,
    /// An internal consistency check failed.
    AssertionFailed,
    /// The user passed bad input.
    UserInputError,
    /// The object does not exist.
    ObjectNotExists,
    /// The object is sealed and can no longer be written.
    ObjectSealed,
    /// The object is not sealed yet.
    ObjectNotSealed,
    /// The metadata tree is invalid.
    MetaTreeInvalid,
    /// A member of a metadata tree has no id.
    MetaTreeNameNotExists,
    /// The object's subtree is missing.
    MetaTreeSubtreeNotExists,
    /// Connecting to the server failed.
    ConnectionFailed,
    /// The connection broke.
    ConnectionError,
    /// The metadata service (etcd) failed.
    EtcdError,
    /// The bulk store is full.
    NotEnoughMemory,
    /// A global object is malformed.
    GlobalObjectInvalid,
    /// Anything else.
    UnknownError,
    /// A code this crate does not name.
    Other(i64),
}

impl Code {
    /// The numeric value on the wire.
    pub fn as_i64(self) -> i64 {
        match self {
            Code::Ok => 0,
            Code::Invalid => 1,
            Code::KeyError => 2,
            Code::TypeError => 3,
            Code::IoError => 4,
            Code::NotImplemented => 6,
            Code::AssertionFailed => 7,
            Code::UserInputError => 8,
            Code::ObjectNotExists => 12,
            Code::ObjectSealed => 13,
            Code::ObjectNotSealed => 14,
            Code::MetaTreeInvalid => 21,
            Code::MetaTreeNameNotExists => 25,
            Code::MetaTreeSubtreeNotExists => 27,
            Code::ConnectionFailed => 33,
            Code::ConnectionError => 34,
            Code::EtcdError => 35,
            Code::NotEnoughMemory => 41,
            Code::GlobalObjectInvalid => 51,
            Code::UnknownError => 255,
            Code::Other(value) => value,
        }
    }

    /// The code for a numeric wire value.
    pub fn from_i64(value: i64) -> Code {
        [
            Code::Ok,
            Code::Invalid,
            Code::KeyError,
            Code::TypeError,
            Code::IoError,
            Code::NotImplemented,
            Code::AssertionFailed,
            Code::UserInputError,
            Code::ObjectNotExists,
            Code::ObjectSealed,
            Code::ObjectNotSealed,
            Code::MetaTreeInvalid,
            Code::MetaTreeNameNotExists,
            Code::MetaTreeSubtreeNotExists,
            Code::ConnectionFailed,
            Code::ConnectionError,
            Code::EtcdError,
            Code::NotEnoughMemory,
            Code::GlobalObjectInvalid,
            Code::UnknownError,
        ]
        .into_iter()
        .find(|code| code.as_i64() == value)
        .unwrap_or(Code::Other(value))
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
    /// The blob exists but has not been sealed by its writer yet.
    #[error("blob {id} is not sealed yet; seal it before reading it")]
    ObjectNotSealed {
        /// The unsealed blob.
        id: ObjectID,
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
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
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
            Error::NotEnoughMemory { .. } => Code::NotEnoughMemory,
            Error::ObjectNotSealed { .. } => Code::ObjectNotSealed,
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
