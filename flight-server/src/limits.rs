//! What one call may ask of the service (`--rpc_max_columns`, `--rpc_max_message_size`), and
//! the errors that name the flag to change.

use tonic::{Code, Status};
use vineyard_core::server::RpcOptions;

use crate::error::Error;

/// The limits of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Columns (nested fields counted) a `do_put` stream may have.
    pub(crate) max_columns: usize,
    /// Largest message accepted, in bytes.
    pub(crate) max_message_size: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::from_options(&RpcOptions::default())
    }
}

impl Limits {
    /// The limits `options` ask for.
    pub(crate) fn from_options(options: &RpcOptions) -> Limits {
        Limits {
            max_columns: options.max_columns,
            max_message_size: usize::try_from(options.max_message_size).unwrap_or(usize::MAX),
        }
    }

    /// Refuses a `do_put` of more than `max_columns` columns.
    pub(crate) fn check_columns(&self, columns: usize) -> Result<(), Error> {
        if columns <= self.max_columns {
            return Ok(());
        }
        Err(Error::invalid(format!(
            "the do_put stream's schema has {columns} columns (nested fields counted); this \
             vineyard instance takes at most {} per put (--rpc_max_columns): put the table in \
             narrower parts, or start vineyardd with a larger --rpc_max_columns",
            self.max_columns
        )))
    }

    /// The error for a status that came in instead of a message: tonic's refusal of a message
    /// over `max_message_size` becomes one that names the flag; others pass on as they are.
    pub(crate) fn incoming_error(&self, status: Status) -> Error {
        let too_large = status.code() == Code::OutOfRange
            && status.message().contains("message length too large");
        if !too_large {
            return Error::from(status);
        }
        self.message_too_large(&format!("tonic said: {}", status.message()))
    }

    /// The refusal of a message over `max_message_size`; `detail` says what was seen.
    pub(crate) fn message_too_large(&self, detail: &str) -> Error {
        Error::invalid(format!(
            "a message of the call is larger than the {} bytes this vineyard instance accepts \
             (--rpc_max_message_size; {detail}): send smaller record batches (e.g. slice the \
             table into batches of fewer rows), or start vineyardd with a larger \
             --rpc_max_message_size",
            self.max_message_size,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_flags() {
        let limits = Limits {
            max_columns: 3,
            max_message_size: 100,
        };
        assert!(limits.check_columns(3).is_ok());
        let wide = limits.check_columns(4).unwrap_err();
        assert_eq!(wide.code(), Code::InvalidArgument);
        assert!(wide.to_string().contains("--rpc_max_columns"), "{wide}");
        let large = limits.incoming_error(Status::out_of_range(
            "Error, decoded message length too large: found 200 bytes, the limit is: 100 bytes",
        ));
        assert_eq!(large.code(), Code::InvalidArgument);
        assert!(
            large.to_string().contains("--rpc_max_message_size"),
            "{large}"
        );
        let other = limits.incoming_error(Status::cancelled("gone"));
        assert_eq!(other.code(), Code::Cancelled);
    }
}
