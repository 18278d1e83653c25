//! The crate's one error type, what kind of failure each error is ([`ErrorKind`], from which
//! the Flight service picks its gRPC status), and its conversion to DataFusion's error.

use std::sync::Arc;

use arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use vineyard_core::ObjectID;

/// Everything that can go wrong planning, running or storing a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The instance refused or failed a request.
    #[error(transparent)]
    Core(#[from] vineyard_core::Error),
    /// A stored object could not be read as Arrow data.
    #[error("cannot read {what} as Arrow data: {source}")]
    Resolve {
        /// The table or part being read.
        what: String,
        /// What the resolver said.
        source: vineyard_resolvers::Error,
    },
    /// A query's result could not be stored.
    #[error("cannot store the result as table `{name}`: {source}")]
    Store {
        /// The table's name.
        name: String,
        /// What the builders said.
        source: vineyard_builders::Error,
    },
    /// The query failed to plan or to run.
    #[error(transparent)]
    DataFusion(DataFusionError),
    /// Arrow data did not fit together.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    /// A name or id the query uses stands for an object that is not a table.
    #[error(
        "{what} is a `{typename}`, which is not Arrow-shaped: only tables, record batches, \
         dataframes, arrays and tensors can be queried"
    )]
    NotArrow {
        /// The name or id, as the query gave it.
        what: String,
        /// The object's typename.
        typename: String,
    },
    /// A table to create has the name of an object already.
    #[error(
        "a table named `{name}` already exists (object {id}): DROP TABLE {name} first, or use \
         CREATE OR REPLACE TABLE"
    )]
    TableExists {
        /// The name.
        name: String,
        /// The object it names.
        id: ObjectID,
    },
    /// A query needed more memory than the engine's pool allows.
    #[error(
        "the query needs more memory than the SQL memory limit ({limit}) allows: raise it \
         (vineyardd --sql_memory_limit, or SqlOptions::memory_limit) or make the query hold \
         less (fewer groups, a LIMIT after ORDER BY, fewer rows joined); {source}"
    )]
    MemoryLimit {
        /// The limit.
        limit: String,
        /// DataFusion's error.
        source: Box<Error>,
    },
    /// A part of a global table lives on another instance that cannot be read.
    #[error("cannot read part {part} of {what} from instance {instance}: {message}")]
    Remote {
        /// The table.
        what: String,
        /// The part (a `vineyard::RecordBatch`).
        part: ObjectID,
        /// The instance holding it.
        instance: u64,
        /// Why it failed and what to do.
        message: String,
    },
    /// The statement is valid SQL that this service does not run.
    #[error("{message}")]
    Unsupported {
        /// What is not supported and what to do instead.
        message: String,
    },
    /// The caller asked for something malformed.
    #[error("{message}")]
    Invalid {
        /// What was wrong and what to do.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an error is, for the status a service answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The query is wrong: syntax, an unknown column, a type error, a bad parameter.
    InvalidArgument,
    /// A table (name or id) the query uses does not exist.
    NotFound,
    /// A table to create exists already.
    AlreadyExists,
    /// The query needs more memory than the pool allows, or the store is full.
    ResourceExhausted,
    /// The statement is not supported here.
    Unimplemented,
    /// The instance, or another instance holding part of the data, cannot be reached.
    Unavailable,
    /// Anything else: a bug or a broken invariant.
    Internal,
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid {
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Error {
        Error::Unsupported {
            message: message.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Core(error)
            | Error::Resolve {
                source: vineyard_resolvers::Error::Core(error),
                ..
            }
            | Error::Store {
                source: vineyard_builders::Error::Core(error),
                ..
            } => core_kind(error),
            Error::Resolve { .. } | Error::NotArrow { .. } | Error::Invalid { .. } => {
                ErrorKind::InvalidArgument
            }
            Error::Store { .. } => ErrorKind::InvalidArgument,
            Error::DataFusion(error) => datafusion_kind(error),
            Error::Arrow(error) => arrow_kind(error),
            Error::TableExists { .. } => ErrorKind::AlreadyExists,
            Error::MemoryLimit { .. } => ErrorKind::ResourceExhausted,
            Error::Remote { .. } => ErrorKind::Unavailable,
            Error::Unsupported { .. } => ErrorKind::Unimplemented,
        }
    }

    /// The vineyard error inside, if this error came from the instance.
    pub fn core(&self) -> Option<&vineyard_core::Error> {
        match self {
            Error::Core(error)
            | Error::Resolve {
                source: vineyard_resolvers::Error::Core(error),
                ..
            }
            | Error::Store {
                source: vineyard_builders::Error::Core(error),
                ..
            } => Some(error),
            Error::DataFusion(error) => ours(error).and_then(Error::core),
            _ => None,
        }
    }
}

fn core_kind(error: &vineyard_core::Error) -> ErrorKind {
    use vineyard_core::Error as Core;
    match error {
        Core::ObjectNotExists { .. }
        | Core::NameNotExists { .. }
        | Core::SubtreeNotExists { .. } => ErrorKind::NotFound,
        Core::NotEnoughMemory { .. } | Core::LimitExceeded { .. } => ErrorKind::ResourceExhausted,
        Core::ConnectionFailed { .. } | Core::ConnectionLost { .. } | Core::Cluster { .. } => {
            ErrorKind::Unavailable
        }
        Core::NotImplemented { .. } => ErrorKind::Unimplemented,
        Core::Invalid { .. } | Core::InvalidMetadata { .. } => ErrorKind::InvalidArgument,
        _ => ErrorKind::Internal,
    }
}

fn arrow_kind(error: &ArrowError) -> ErrorKind {
    match error {
        ArrowError::MemoryError(_) => ErrorKind::ResourceExhausted,
        ArrowError::ExternalError(inner) => match inner.downcast_ref::<DataFusionError>() {
            Some(error) => datafusion_kind(error),
            None => match inner.downcast_ref::<Error>() {
                Some(error) => error.kind(),
                None => ErrorKind::Internal,
            },
        },
        ArrowError::IoError(..) => ErrorKind::Internal,
        // Casts, overflows, division by zero, bad arguments: the query's data or types.
        _ => ErrorKind::InvalidArgument,
    }
}

/// This crate's error inside a DataFusion error, if it is one.
fn ours(error: &DataFusionError) -> Option<&Error> {
    match error.find_root() {
        DataFusionError::External(inner) => inner.downcast_ref::<Error>(),
        _ => None,
    }
}

fn datafusion_kind(error: &DataFusionError) -> ErrorKind {
    match error.find_root() {
        DataFusionError::SQL(..) | DataFusionError::SchemaError(..) => ErrorKind::InvalidArgument,
        DataFusionError::Plan(message) if is_missing_table(message) => ErrorKind::NotFound,
        DataFusionError::Plan(_) | DataFusionError::Configuration(_) => ErrorKind::InvalidArgument,
        DataFusionError::Execution(message) if message.contains("already exists") => {
            ErrorKind::AlreadyExists
        }
        DataFusionError::Execution(message) if message.contains("doesn't exist") => {
            ErrorKind::NotFound
        }
        DataFusionError::Execution(_) => ErrorKind::InvalidArgument,
        DataFusionError::ResourcesExhausted(_) => ErrorKind::ResourceExhausted,
        DataFusionError::NotImplemented(_) => ErrorKind::Unimplemented,
        DataFusionError::ArrowError(error, _) => arrow_kind(error),
        DataFusionError::External(inner) => match inner.downcast_ref::<Error>() {
            Some(error) => error.kind(),
            None => match inner.downcast_ref::<ArrowError>() {
                Some(error) => arrow_kind(error),
                None => ErrorKind::Internal,
            },
        },
        DataFusionError::Shared(inner) => datafusion_kind(inner),
        DataFusionError::Collection(errors) => errors
            .first()
            .map(datafusion_kind)
            .unwrap_or(ErrorKind::Internal),
        _ => ErrorKind::Internal,
    }
}

/// DataFusion's words for a table the catalog does not have.
fn is_missing_table(message: &str) -> bool {
    message.starts_with("table '") && message.ends_with("' not found")
}

impl From<Error> for DataFusionError {
    fn from(error: Error) -> DataFusionError {
        match error {
            Error::DataFusion(error) => error,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

impl From<DataFusionError> for Error {
    /// This crate's errors that travelled through DataFusion come back as they were.
    fn from(error: DataFusionError) -> Error {
        match error {
            DataFusionError::External(inner) => match inner.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(inner) => Error::DataFusion(DataFusionError::External(inner)),
            },
            other => Error::DataFusion(other),
        }
    }
}

impl From<ParserError> for Error {
    fn from(error: ParserError) -> Error {
        Error::DataFusion(DataFusionError::SQL(Box::new(error), None))
    }
}

impl From<Arc<DataFusionError>> for Error {
    fn from(error: Arc<DataFusionError>) -> Error {
        Error::DataFusion(DataFusionError::Shared(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_datafusion_errors() {
        let missing = DataFusionError::Plan("table 'vineyard.public.nope' not found".into());
        assert_eq!(Error::from(missing).kind(), ErrorKind::NotFound);
        let exhausted = DataFusionError::ResourcesExhausted("pool".into());
        let wrapped = exhausted.context("while sorting");
        assert_eq!(Error::from(wrapped).kind(), ErrorKind::ResourceExhausted);
        let ours = DataFusionError::from(Error::NotArrow {
            what: "`t`".into(),
            typename: "vineyard::Tuple".into(),
        });
        assert_eq!(Error::from(ours).kind(), ErrorKind::InvalidArgument);
        let lost = DataFusionError::from(Error::Core(vineyard_core::Error::ObjectNotExists {
            id: ObjectID(7),
        }));
        assert_eq!(Error::from(lost).kind(), ErrorKind::NotFound);
        let cast = DataFusionError::ArrowError(
            Box::new(ArrowError::CastError("cannot cast 'x' to Int64".into())),
            None,
        );
        assert_eq!(Error::from(cast).kind(), ErrorKind::InvalidArgument);
    }
}
