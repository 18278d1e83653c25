//! vineyard-persist: data that outlives memory. Saves any object tree of a vineyard instance
//! to object storage (local files, S3 and S3-compatible servers, or memory, through the
//! `object_store` crate) and loads it back, into the same or another instance; restores an
//! instance from a snapshot at start (`--restore_from`).
//!
//! ```no_run
//! # fn main() -> Result<(), vineyard_persist::Error> {
//! use vineyard_core::IpcClient;
//! use vineyard_persist::{load, save, LoadOptions, SaveOptions};
//!
//! let client = IpcClient::connect("/var/run/vineyard.sock")?;
//! let id = client.put_bytes(b"hello")?;
//! save(&client, &[id], "file:///tmp/snapshot", &SaveOptions::default())?;
//! let loaded = load(&client, "file:///tmp/snapshot", &LoadOptions::default())?;
//! # let _ = loaded;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout on storage
//! Under the URL: `manifest.json`, written last (a save without it is not a save), holding
//! the saved objects' metadata trees, their names, and each blob's size and CRC-32C; one
//! object per blob under `blobs/` (written in parallel parts when large, read back in
//! parallel ranges, or, from a local directory, read straight into the blobs by several
//! threads); and, for Arrow-shaped objects, an Arrow IPC file under `arrow/` that other tools
//! read without vineyard (encoded batch by batch and sent part by part as it grows).
//!
//! # Modules
//! - [`location`]: a URL (`file://`, `s3://`, `memory://`) and options to a store and prefix.
//! - [`manifest`]: the manifest's typed, versioned format.
//! - [`progress`]: bytes done of bytes in all, for callbacks and a terminal progress bar.
//! - `transfer`: blobs to and from the store, in parallel parts, with their checksums.
//! - `save`, `load`: the two directions, over an [`IpcClient`](vineyard_core::IpcClient).
//! - `export`: Arrow IPC files of Arrow-shaped objects.
//! - `restore`: the [`Restorer`](vineyard_core::server::Restorer) behind `--restore_from`.
//! - [`error`]: the crate's `Error`.

#![warn(missing_docs)]

pub mod error;
mod export;
mod load;
pub mod location;
pub mod manifest;
pub mod progress;
mod restore;
mod runtime;
mod save;
mod transfer;

pub use error::{Error, Result};
pub use load::{load, load_async, LoadOptions, Loaded};
pub use location::Location;
pub use manifest::Manifest;
pub use progress::{Progress, ProgressCallback};
pub use restore::SnapshotRestorer;
pub use save::{save, save_all, save_all_async, save_async, ExportFormat, SaveOptions, Saved};
pub use transfer::{FILES_AT_ONCE, PART, UPLOAD_PART};
