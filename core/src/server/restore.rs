//! `--restore_from URL`: an instance that starts from a snapshot. It listens on a private
//! path beside its socket while the [`Restorer`] loads the snapshot through it, and renames
//! that path to its socket once every object is back: a client that finds the socket finds
//! the objects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Loads a snapshot into an instance as it starts (our `--restore_from`). The
/// `vineyard-persist` crate implements it; `vineyardd` and `python -m vineyard` plug it in.
pub trait Restorer: Send + Sync {
    /// Loads every object saved at `url` (names included) through the instance listening on
    /// `socket`; returns how many objects it loaded. Runs on a blocking thread.
    fn restore(&self, socket: &Path, url: &str) -> Result<usize>;
}

/// Where an instance restoring a snapshot listens until it is done.
pub(super) fn restoring_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".restoring");
    PathBuf::from(name)
}

/// Runs the restore through `listening` (the private path), then moves the socket to
/// `socket`.
pub(super) async fn run(
    restorer: Option<Arc<dyn Restorer>>,
    listening: PathBuf,
    socket: PathBuf,
    url: String,
) -> Result<()> {
    let restorer = restorer.ok_or_else(|| Error::NotImplemented {
        what: "--restore_from in this program: it was built without vineyard-persist; run \
               vineyardd or python -m vineyard"
            .into(),
    })?;
    let started = std::time::Instant::now();
    let (at, from) = (listening.clone(), url.clone());
    let loaded = tokio::task::spawn_blocking(move || restorer.restore(&at, &from))
        .await
        .map_err(|error| Error::invalid(format!("the restore panicked: {error}")))?
        .map_err(|error| Error::invalid(format!("cannot restore from {url}: {error}")))?;
    super::socket::check_available(&socket)?;
    std::fs::rename(&listening, &socket).map_err(|error| {
        Error::invalid(format!(
            "restored from {url}, but cannot move the socket from {} to {}: {error}",
            listening.display(),
            socket.display()
        ))
    })?;
    tracing::info!(
        objects = loaded,
        %url,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "restored the snapshot"
    );
    Ok(())
}
