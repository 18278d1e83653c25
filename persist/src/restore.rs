//! `--restore_from URL`: the [`Restorer`] `vineyardd` and `python -m vineyard` plug in.

use std::path::Path;

use vineyard_core::server::Restorer;
use vineyard_core::IpcClient;

use crate::load::{load, LoadOptions};

/// Loads a snapshot (such as one `save_all` wrote) into a starting instance, names included.
/// S3 settings come from the usual AWS environment variables.
#[derive(Clone, Copy, Debug, Default)]
pub struct SnapshotRestorer;

impl Restorer for SnapshotRestorer {
    fn restore(&self, socket: &Path, url: &str) -> vineyard_core::Result<usize> {
        let client = IpcClient::connect(socket)?;
        let loaded = load(&client, url, &LoadOptions::default())?;
        Ok(loaded.objects.len())
    }
}
