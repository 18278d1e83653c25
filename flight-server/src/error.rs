//! The crate's one error type, and its mapping to gRPC statuses at the service's edge.

use arrow::error::ArrowError;
use arrow_flight::error::FlightError;
use tonic::metadata::MetadataValue;
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
        /// The Vineyard status code the service sent with it, if any.
        vineyard: Option<VineyardCode>,
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
    /// A plain-text client called a service that serves TLS only.
    #[error(
        "this vineyard instance serves Arrow Flight over TLS only (vineyardd --rpc_tls_cert): \
         connect to grpc+tls://host:port and trust its certificate (Rust: \
         RemoteClient::connect_with(endpoint, token, Some(ca_pem)); Python: \
         vineyard.connect('grpc+tls://host:port', tls_root_certs=ca_pem))"
    )]
    TlsRequired,
    /// A SQL statement failed (Flight SQL).
    #[cfg(feature = "sql")]
    #[error(transparent)]
    Sql(#[from] vineyard_sql::Error),
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
            Error::TlsRequired => Code::FailedPrecondition,
            Error::Io { .. } => Code::Internal,
            #[cfg(feature = "sql")]
            Error::Sql(error) => match error.core() {
                Some(core) => core_code(core),
                None => sql_code(error.kind()),
            },
        }
    }
}

/// The gRPC status code of a kind of SQL failure.
#[cfg(feature = "sql")]
fn sql_code(kind: vineyard_sql::ErrorKind) -> Code {
    use vineyard_sql::ErrorKind as Kind;
    match kind {
        Kind::InvalidArgument => Code::InvalidArgument,
        Kind::NotFound => Code::NotFound,
        Kind::AlreadyExists => Code::AlreadyExists,
        Kind::ResourceExhausted => Code::ResourceExhausted,
        Kind::Unimplemented => Code::Unimplemented,
        Kind::Unavailable => Code::Unavailable,
        _ => Code::Internal,
    }
}

/// The Vineyard status code of a kind of SQL failure (what a Python client raises).
#[cfg(feature = "sql")]
fn sql_vineyard_code(kind: vineyard_sql::ErrorKind) -> VineyardCode {
    use vineyard_sql::ErrorKind as Kind;
    match kind {
        Kind::InvalidArgument => VineyardCode::Invalid,
        Kind::NotFound => VineyardCode::ObjectNotExists,
        Kind::AlreadyExists => VineyardCode::ObjectExists,
        Kind::ResourceExhausted => VineyardCode::NotEnoughMemory,
        Kind::Unimplemented => VineyardCode::NotImplemented,
        Kind::Unavailable => VineyardCode::ConnectionError,
        _ => VineyardCode::UnknownError,
    }
}

impl Error {
    /// The Vineyard status code this error carries to remote clients (in the gRPC status
    /// details), so that they raise the same typed error as a local client would.
    pub fn vineyard_code(&self) -> VineyardCode {
        match self {
            Error::Core(error)
            | Error::NotArrow {
                source: vineyard_resolvers::Error::Core(error),
                ..
            }
            | Error::Build(vineyard_builders::Error::Core(error)) => error.code(),
            Error::NotArrow { .. } => VineyardCode::ObjectTypeError,
            Error::Build(_) | Error::InvalidArgument { .. } | Error::Protocol { .. } => {
                VineyardCode::Invalid
            }
            Error::Arrow(_) => VineyardCode::ArrowError,
            Error::Remote {
                vineyard: Some(code),
                ..
            } => *code,
            Error::Remote { .. } => VineyardCode::UnknownError,
            Error::Connect { .. } | Error::TlsRequired => VineyardCode::ConnectionFailed,
            Error::Io { .. } => VineyardCode::IoError,
            #[cfg(feature = "sql")]
            Error::Sql(error) => match error.core() {
                Some(core) => core.code(),
                None => sql_vineyard_code(error.kind()),
            },
        }
    }
}

/// The trailer in which Arrow Flight servers send an Arrow status code (C++ clients, pyarrow
/// among them, raise the matching Arrow exception).
const ARROW_STATUS: &str = "x-arrow-status";

/// The trailer whose text Arrow Flight's C++ client appends to the message as `. Detail: ...`:
/// here `vineyard_code=<code>`, the Vineyard status code of the error.
const ARROW_STATUS_DETAIL: &str = "x-arrow-status-detail-bin";

/// How the Vineyard status code is spelled in [`ARROW_STATUS_DETAIL`].
const VINEYARD_CODE_PREFIX: &str = "vineyard_code=";

/// The Arrow status code (`arrow::StatusCode`) a client should raise for a gRPC code: what
/// pyarrow shows a plain Flight client (`ArrowInvalid`, `KeyError`, `ArrowMemoryError`, ...).
fn arrow_status_code(code: Code) -> u8 {
    match code {
        Code::NotFound => 2,
        Code::InvalidArgument => 4,
        Code::ResourceExhausted => 1,
        Code::Unimplemented => 10,
        Code::Unavailable => 5,
        _ => 9,
    }
}

/// The Vineyard status code an error status carries, if it carries one.
pub fn vineyard_code_of(status: &Status) -> Option<VineyardCode> {
    let detail = status
        .metadata()
        .get_bin(ARROW_STATUS_DETAIL)?
        .to_bytes()
        .ok()?;
    let text = std::str::from_utf8(&detail).ok()?;
    let code = text.strip_prefix(VINEYARD_CODE_PREFIX)?.parse().ok()?;
    Some(VineyardCode::from_i64(code))
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
        let code = error.code();
        let mut status = Status::new(code, message);
        let trailers = status.metadata_mut();
        trailers.insert(
            ARROW_STATUS,
            MetadataValue::from(arrow_status_code(code) as u32),
        );
        let detail = format!("{VINEYARD_CODE_PREFIX}{}", error.vineyard_code().as_i64());
        trailers.insert_bin(
            ARROW_STATUS_DETAIL,
            MetadataValue::from_bytes(detail.as_bytes()),
        );
        status
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Error {
        Error::Remote {
            code: status.code(),
            vineyard: vineyard_code_of(&status),
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
