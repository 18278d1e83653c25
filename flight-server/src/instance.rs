//! The service's way into its own instance: `IpcClient`s on the instance's socket, kept in a
//! small pool so that concurrent calls do not queue behind one connection.
//!
//! `IpcClient` is synchronous, so every use runs on tokio's blocking pool. Calls never wait
//! server-side (no `wait: true`), so a connection is never held for long.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use vineyard_core::IpcClient;

use crate::error::{Error, Result};

/// Idle connections kept for reuse; more are opened under load and closed afterwards.
const IDLE_CONNECTIONS: usize = 8;

/// Connections to the instance the service serves.
#[derive(Debug)]
pub(crate) struct Instance {
    socket: PathBuf,
    idle: Mutex<Vec<IpcClient>>,
}

impl Instance {
    pub(crate) fn new(socket: PathBuf) -> Arc<Instance> {
        Arc::new(Instance {
            socket,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `work` with a connection on the blocking pool.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&IpcClient) -> Result<T> + Send + 'static,
    {
        let instance = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let client = instance.checkout()?;
            let result = work(&client);
            let broken = matches!(
                result,
                Err(Error::Core(
                    vineyard_core::Error::ConnectionLost { .. }
                        | vineyard_core::Error::ConnectionFailed { .. }
                ))
            );
            if !broken {
                instance.checkin(client);
            }
            result
        })
        .await
        .map_err(|error| Error::Protocol {
            message: format!("a request to the instance failed unexpectedly: {error}"),
        })?
    }

    /// A connection of its own for a call that makes several requests which must share one
    /// connection (an all-or-nothing write with blobs written in between); it goes back to the
    /// pool when the lease drops.
    pub(crate) async fn lease(self: &Arc<Self>) -> Result<Lease> {
        let instance = Arc::clone(self);
        let client = tokio::task::spawn_blocking(move || instance.checkout())
            .await
            .map_err(|error| Error::Protocol {
                message: format!("connecting to the instance failed unexpectedly: {error}"),
            })??;
        Ok(Lease {
            instance: Arc::clone(self),
            client: Some(client),
        })
    }

    fn checkout(&self) -> Result<IpcClient> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .pop();
        match idle {
            Some(client) => Ok(client),
            None => Ok(IpcClient::connect(&self.socket)?),
        }
    }

    fn checkin(&self, client: IpcClient) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(client);
        }
    }
}

/// A pooled connection lent to one call (see [`Instance::lease`]).
pub(crate) struct Lease {
    instance: Arc<Instance>,
    client: Option<IpcClient>,
}

impl std::ops::Deref for Lease {
    type Target = IpcClient;

    fn deref(&self) -> &IpcClient {
        self.client
            .as_ref()
            .expect("a lease holds its client until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.instance.checkin(client);
        }
    }
}
