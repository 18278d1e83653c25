//! `ServedFlight`: a second Flight service, with options of the test's choosing (limits,
//! TLS, token), served beside a `TestServer` over the instance's IPC socket.

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vineyard_core::server::{RpcOptions, RpcService};
use vineyard_flight_server::FlightService;

use vineyard_test_harness::TestServer;

/// A Flight service bound to a free loopback port, serving `instance` until dropped.
pub struct ServedFlight {
    endpoint: String,
    stop: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<vineyard_core::Result<()>>>,
}

impl ServedFlight {
    /// Serves `instance` with `options` (host and port are set to 127.0.0.1 and any port).
    /// Call from inside a runtime.
    pub fn start(instance: &TestServer, options: RpcOptions) -> ServedFlight {
        let options = RpcOptions {
            host: "127.0.0.1".into(),
            port: 0,
            ..options
        };
        let mut service = Box::new(FlightService::new());
        let endpoint = service.bind(&options).expect("the Flight service binds");
        let (stop, stopped) = oneshot::channel::<()>();
        let socket = instance.client().socket().to_path_buf();
        let served = tokio::spawn(service.serve(
            socket,
            Box::pin(async move {
                let _ = stopped.await;
            }),
        ));
        ServedFlight {
            endpoint,
            stop: Some(stop),
            served: Some(served),
        }
    }

    /// The endpoint the service announces (`grpc+tls://...` when it serves TLS).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `host:port`, without a scheme.
    pub fn address(&self) -> &str {
        self.endpoint
            .split_once("://")
            .map_or(self.endpoint.as_str(), |(_, address)| address)
    }

    /// Stops the service; it must stop cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served
                .await
                .expect("Flight task")
                .expect("the Flight service stops cleanly");
        }
    }
}

impl Drop for ServedFlight {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
