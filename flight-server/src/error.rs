//! The crate's one error type, and its mapping to gRPC statuses at the service's edge.

use arrow::error::ArrowError;
use arrow_flight::error::FlightError;
use tonic::{Code, Status};
use vineyard_core::{Code as VineyardCode, ObjectID};

/// Everything that can go wrong serving or calling Flight.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The instance refused or failed a request.
    #[error(transparent)]
    Core(#[from] vineyard_core::Error),
    /// The object exists but is not shaped like Arrow data (or its payload cannot be mapped).
    #[error("object {id} of type `{typename}` cannot be read as Arrow data: {source}")]
    NotArrow {
        /// The object.
        id: ObjectID,
        /// Its typename.
        typename: String,
        /// What the resolver said.
        source: vineyard_resolvers::Error,
    },
    /// Storing Arrow data in the instance failed.
    #[error("cannot store the data: {0}")]
    Build(#[from] vineyard_builders::Error),
    /// Arrow data could not be encoded or decoded.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    /// The caller asked for something malformed.
    #[error("{message}")]
    InvalidArgument {
        /// What was wrong and what to do.
        message: String,
    },
    /// A Flight stream did not follow the protocol.
    #[error("{message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
    /// The remote service answered with an error status.
    #[error("{message} ({code:?})")]
    Remote {
        /// The gRPC status code.
        code: Code,
        /// The server's message.
        message: String,
    },
    /// The remote service could not be reached.
    #[error("cannot connect to the Flight service at {endpoint}: {source}")]
    Connect {
        /// The endpoint tried.
        endpoint: String,
        /// Why it failed.
        source: tonic::transport::Error,
    },
    /// Binding or serving the TCP listener failed.
    #[error("{message}: {source}")]
    Io {
        /// What was being done.
        message: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidArgument {
            message: message.into(),
        }
    }

    /// The gRPC status code this error travels as.
    pub fn code(&self) -> Code {
        match self {
            Error::Core(error)
            | Error::NotArrow {
                source: vineyard_resolvers::Error::Core(error),
                ..
            }
            | Error::Build(vineyard_builders::Error::Core(error)) => core_code(error),
            Error::NotArrow { .. }
            | Error::Build(_)
            | Error::InvalidArgument { .. }
            | Error::Protocol { .. } => Code::InvalidArgument,
            Error::Arrow(_) => Code::InvalidArgument,
            Error::Remote { code, .. } => *code,
            Error::Connect { .. } => Code::Unavailable,
            Error::Io { .. } => Code::Internal,
        }
    }
}

fn core_code(error: &vineyard_core::Error) -> Code {
    use vineyard_core::Error as Core;
    match error {
        Core::ObjectNotExists { .. }
        | Core::NameNotExists { .. }
        | Core::SubtreeNotExists { .. } => Code::NotFound,
        Core::NotEnoughMemory { .. } => Code::ResourceExhausted,
        Core::ConnectionFailed { .. } | Core::ConnectionLost { .. } | Core::Cluster { .. } => {
            Code::Unavailable
        }
        Core::NotImplemented { .. } => Code::Unimplemented,
        Core::Server { code, .. } => match code {
            VineyardCode::ObjectNotExists
            | VineyardCode::MetaTreeSubtreeNotExists
            | VineyardCode::KeyError => Code::NotFound,
            VineyardCode::NotEnoughMemory => Code::ResourceExhausted,
            VineyardCode::EtcdError | VineyardCode::ConnectionError => Code::Unavailable,
            VineyardCode::NotImplemented => Code::Unimplemented,
            VineyardCode::IoError | VineyardCode::UnknownError => Code::Internal,
            _ => Code::InvalidArgument,
        },
        Core::Invalid { .. }
        | Core::InvalidMetadata { .. }
        | Core::AssertionFailed { .. }
        | Core::ObjectNotSealed { .. } => Code::InvalidArgument,
        _ => Code::Internal,
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        let message = match &error {
            // The server's message already says what went wrong; the code prefix is noise here.
            Error::Core(vineyard_core::Error::Server { message, .. }) => message.clone(),
            other => other.to_string(),
        };
        Status::new(error.code(), message)
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Error {
        Error::Remote {
            code: status.code(),
            message: status.message().to_string(),
        }
    }
}

impl From<FlightError> for Error {
    fn from(error: FlightError) -> Error {
        match error {
            FlightError::Tonic(status) => Error::from(*status),
            FlightError::Arrow(error) => Error::Arrow(error),
            other => Error::Protocol {
                message: other.to_string(),
            },
        }
    }
}
