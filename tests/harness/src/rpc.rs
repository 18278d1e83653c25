//! The RPC service of a test server, wrapped so that the test can check how it ended:
//! `Server::serve_with` only logs a failure of the service beside it.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use vineyard_core::server::{RpcOptions, RpcService};
use vineyard_core::Result;

/// How the service's `serve` ended (its error as text); `None` while it runs.
pub(crate) type Outcome = Arc<Mutex<Option<std::result::Result<(), String>>>>;

/// An RPC service that records the outcome of its `serve`.
pub(crate) struct Watched {
    service: Box<dyn RpcService>,
    outcome: Outcome,
}

impl Watched {
    /// `service`, and where the outcome of its `serve` will be.
    pub(crate) fn new(service: Box<dyn RpcService>) -> (Watched, Outcome) {
        let outcome = Outcome::default();
        let watched = Watched {
            service,
            outcome: Arc::clone(&outcome),
        };
        (watched, outcome)
    }
}

impl RpcService for Watched {
    fn bind(&mut self, options: &RpcOptions) -> Result<String> {
        self.service.bind(options)
    }

    fn open_connections(&self) -> Arc<AtomicUsize> {
        self.service.open_connections()
    }

    fn serve(
        self: Box<Self>,
        socket: PathBuf,
        shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        let Watched { service, outcome } = *self;
        Box::pin(async move {
            let served = service.serve(socket, shutdown).await;
            let ended = served.as_ref().map(drop).map_err(ToString::to_string);
            *outcome.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(ended);
            served
        })
    }
}
