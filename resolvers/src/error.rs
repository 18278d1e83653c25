//! The crate's one error type.

use arrow::error::ArrowError;
use vineyard_core::{ObjectID, ObjectMeta};

/// Why an object could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No resolver is registered for the typename (nor any prefix of it).
    #[error(
        "no resolver for typename `{typename}`{}; register one for its prefix with \
         `ResolverRegistry::register`",
        at(.id)
    )]
    UnsupportedType {
        /// The object's typename (empty if it had none).
        typename: String,
        /// The object's id, if its tree had one.
        id: Option<ObjectID>,
    },
    /// The typename is known, but this object's contents have no Arrow form.
    #[error("`{typename}`{} cannot be resolved: {reason}", at(.id))]
    UnsupportedValue {
        /// The object's typename.
        typename: String,
        /// The object's id, if its tree had one.
        id: Option<ObjectID>,
        /// What is not supported, and what to do instead.
        reason: String,
    },
    /// A member the layout needs is absent.
    #[error(
        "`{typename}`{} lacks the member `{member}`; the tree was not written by a vineyard \
         builder or was cut short",
        at(.id)
    )]
    MissingMember {
        /// The object's typename.
        typename: String,
        /// The object's id, if its tree had one.
        id: Option<ObjectID>,
        /// The member's name.
        member: String,
    },
    /// A plain field the layout needs is absent or malformed.
    #[error("`{typename}`{}: field `{field}` {problem}", at(.id))]
    InvalidField {
        /// The object's typename.
        typename: String,
        /// The object's id, if its tree had one.
        id: Option<ObjectID>,
        /// The field's name.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The object resolves, but not to the shape asked for (e.g. an array from a table).
    #[error("`{typename}`{} resolves to {found}, not {expected}; call `resolve` instead", at(.id))]
    UnexpectedShape {
        /// The object's typename.
        typename: String,
        /// The object's id, if its tree had one.
        id: Option<ObjectID>,
        /// What was asked for.
        expected: &'static str,
        /// What the object is.
        found: &'static str,
    },
    /// The store failed (missing blob, lost connection, ...).
    #[error(transparent)]
    Core(#[from] vineyard_core::Error),
    /// Arrow rejected the buffers (sizes, offsets, UTF-8, alignment) or a schema.
    #[error("arrow rejected the object's data: {0}")]
    Arrow(#[from] ArrowError),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn at(id: &Option<ObjectID>) -> String {
    id.map(|id| format!(" {id}")).unwrap_or_default()
}

impl Error {
    pub(crate) fn unsupported_value(meta: &ObjectMeta, reason: impl Into<String>) -> Error {
        Error::UnsupportedValue {
            typename: typename_of(meta).into(),
            id: meta.id(),
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_field(
        meta: &ObjectMeta,
        field: &str,
        problem: impl Into<String>,
    ) -> Error {
        Error::InvalidField {
            typename: typename_of(meta).into(),
            id: meta.id(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn unexpected_shape(
        meta: &ObjectMeta,
        expected: &'static str,
        found: &'static str,
    ) -> Error {
        Error::UnexpectedShape {
            typename: typename_of(meta).into(),
            id: meta.id(),
            expected,
            found,
        }
    }
}

/// The typename of a tree, empty if it has none.
pub(crate) fn typename_of(meta: &ObjectMeta) -> &str {
    meta.typename().unwrap_or_default()
}
