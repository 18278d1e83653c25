//! The crate's one error type: what went wrong with a save or a load, naming the URL, the
//! blob or the manifest field, and what to do.

use vineyard_core::ObjectID;

/// Everything that can go wrong while saving or loading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL or its options are not usable.
    #[error("cannot use `{url}`: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it and what to give instead.
        reason: String,
    },
    /// The store failed (unreachable, no permission, disk full, ...).
    #[error("{action} {path} at {url} failed: {reason}")]
    Storage {
        /// What was done (`writing`, `reading`, ...).
        action: &'static str,
        /// The object in the store.
        path: String,
        /// The save's URL.
        url: String,
        /// The store's error.
        reason: String,
    },
    /// No manifest: nothing was saved there, or the save did not finish.
    #[error(
        "no snapshot at {url}: {path} is missing (nothing was saved there, or the save did not \
         finish; save again)"
    )]
    NoManifest {
        /// The save's URL.
        url: String,
        /// The manifest's path.
        path: String,
    },
    /// The manifest cannot be read.
    #[error("the manifest at {url} is not valid: {reason}")]
    BadManifest {
        /// The save's URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The manifest has a format version this build does not read.
    #[error(
        "the manifest at {url} has format version {found}; this build reads version \
         {supported} (load it with the vineyard-rs release that saved it)"
    )]
    ManifestVersion {
        /// The save's URL.
        url: String,
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A blob the manifest lists is missing from the store.
    #[error("the save at {url} is incomplete: blob {blob} ({path}) is missing; save again")]
    MissingBlob {
        /// The save's URL.
        url: String,
        /// The blob's id when saved.
        blob: ObjectID,
        /// Its path in the store.
        path: String,
    },
    /// A blob's bytes differ from what was saved.
    #[error(
        "the save at {url} is corrupted: blob {blob} ({path}) has CRC-32C {found:08x} and \
         {size} bytes, the manifest says {expected:08x} and {expected_size} bytes; save again"
    )]
    ChecksumMismatch {
        /// The save's URL.
        url: String,
        /// The blob's id when saved.
        blob: ObjectID,
        /// Its path in the store.
        path: String,
        /// The checksum in the manifest.
        expected: u32,
        /// The checksum of the bytes read.
        found: u32,
        /// Bytes in the manifest.
        expected_size: u64,
        /// Bytes read.
        size: u64,
    },
    /// An object cannot be saved as asked.
    #[error("cannot save object {id}: {reason}")]
    Unsavable {
        /// The object.
        id: ObjectID,
        /// Why, and what to do.
        reason: String,
    },
    /// The progress callback asked to stop (or raised).
    #[error("{0} cancelled by its progress callback")]
    Cancelled(&'static str),
    /// The vineyard instance failed.
    #[error(transparent)]
    Vineyard(#[from] vineyard_core::Error),
}

impl From<Error> for vineyard_core::Error {
    fn from(error: Error) -> vineyard_core::Error {
        match error {
            Error::Vineyard(error) => error,
            Error::Url { .. } => vineyard_core::Error::invalid(error.to_string()),
            other => vineyard_core::Error::Io(std::io::Error::other(other.to_string())),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An object_store error in a few words, with its causes (e.g. "No space left on device").
pub(crate) fn describe(error: &object_store::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}
