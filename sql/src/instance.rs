//! The crate's way into an instance: an `IpcClient` (synchronous: async callers run it on
//! tokio's blocking pool) and, for parts of global tables held by other instances, a
//! [`RemoteReader`](crate::RemoteReader).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::runtime::{Handle, RuntimeFlavor};
use vineyard_core::{InstanceID, IpcClient};

use crate::error::{Error, Result};
use crate::remote::RemoteReader;

/// A connection to the instance whose objects are the tables.
#[derive(Clone, Debug)]
pub(crate) struct Instance {
    client: IpcClient,
    remote: Option<Arc<dyn RemoteReader>>,
}

impl Instance {
    pub(crate) fn new(client: IpcClient, remote: Option<Arc<dyn RemoteReader>>) -> Instance {
        Instance { client, remote }
    }

    /// The instance's id: parts held elsewhere are read through the remote reader.
    pub(crate) fn id(&self) -> InstanceID {
        self.client.instance_id()
    }

    pub(crate) fn client(&self) -> &IpcClient {
        &self.client
    }

    pub(crate) fn remote(&self) -> Option<&Arc<dyn RemoteReader>> {
        self.remote.as_ref()
    }

    /// Runs `work` on the blocking pool (inline outside a runtime).
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&IpcClient) -> Result<T> + Send + 'static,
    {
        let client = self.client.clone();
        if Handle::try_current().is_err() {
            return work(&client);
        }
        tokio::task::spawn_blocking(move || work(&client))
            .await
            .map_err(|error| Error::invalid(format!("a request to the instance failed: {error}")))?
    }

    /// Runs `work` on this thread, for DataFusion's synchronous catalog calls; a worker of a
    /// multi-threaded runtime hands its other tasks off first.
    pub(crate) fn run_here<T>(&self, work: impl FnOnce(&IpcClient) -> Result<T>) -> Result<T> {
        match Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| work(&self.client))
            }
            _ => work(&self.client),
        }
    }
}

/// The Flight endpoint of every live instance of the cluster.
pub(crate) fn endpoints(client: &IpcClient) -> Result<HashMap<InstanceID, String>> {
    Ok(client
        .cluster_info()?
        .into_values()
        .filter(|info| !info.rpc_endpoint.is_empty())
        .map(|info| (info.hostid, info.rpc_endpoint))
        .collect())
}
