//! `TestInstance`: a real instance (IPC server and Flight service) on a temp socket and a
//! free loopback port, served from a background thread with its own runtime.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::FlightClient;
use tempfile::TempDir;
use tokio::sync::oneshot;
use vineyard_core::server::{RpcOptions, RpcService};
use vineyard_core::{IpcClient, Server, ServerConfig};
use vineyard_flight_server::{FlightService, RemoteClient};

/// Shared memory of a test instance.
pub const TEST_SIZE: u64 = 256 << 20;

/// An instance with its Flight service, running until stopped (or dropped).
pub struct TestInstance {
    endpoint: String,
    token: Option<String>,
    socket: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    // Dropped last: the socket lives inside it.
    _dir: TempDir,
}

impl TestInstance {
    /// An instance without a token.
    pub fn start() -> TestInstance {
        TestInstance::start_with_token(None)
    }

    /// An instance whose Flight calls need `token`, if given.
    pub fn start_with_token(token: Option<&str>) -> TestInstance {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("vineyard.sock");
        let options = RpcOptions {
            enabled: true,
            host: "127.0.0.1".into(),
            port: 0,
            token: token.map(String::from),
            ..RpcOptions::default()
        };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let (bound, endpoint) = std::sync::mpsc::channel::<String>();
        let instance_socket = socket.clone();
        // The instance gets a thread and a runtime of its own: tests may run on a runtime too.
        let thread = std::thread::Builder::new()
            .name("test-instance".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                runtime.block_on(async move {
                    let mut service = Box::new(FlightService::new());
                    let endpoint = service.bind(&options).expect("Flight binds");
                    let mut config = ServerConfig::local(&instance_socket, TEST_SIZE);
                    config.reserve_memory = false;
                    config.rpc_endpoint = Some(endpoint.clone());
                    let server = Server::bind(config).await.expect("server binds");
                    bound.send(endpoint).expect("endpoint sent");
                    let (stop_rpc, rpc_stopped) = oneshot::channel::<()>();
                    let rpc = tokio::spawn(service.serve(
                        instance_socket,
                        Box::pin(async move {
                            let _ = rpc_stopped.await;
                        }),
                    ));
                    server
                        .serve(async move {
                            let _ = stopped.await;
                        })
                        .await
                        .expect("IPC server stops cleanly");
                    let _ = stop_rpc.send(());
                    rpc.await
                        .expect("Flight task")
                        .expect("Flight service stops cleanly");
                })
            })
            .expect("instance thread");
        let endpoint = endpoint.recv().expect("the instance starts");
        let instance = TestInstance {
            endpoint,
            token: token.map(String::from),
            socket,
            shutdown: Some(shutdown),
            thread: Some(thread),
            _dir: dir,
        };
        instance.wait_until_serving();
        instance
    }

    fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(error) = IpcClient::connect(&self.socket).and_then(|client| client.status()) {
            assert!(
                Instant::now() < deadline,
                "instance on {} never answered: {error}",
                self.socket.display()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The Flight endpoint, `127.0.0.1:port`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A new IPC client.
    pub fn ipc(&self) -> IpcClient {
        IpcClient::connect(&self.socket).expect("IPC client connects")
    }

    /// A `RemoteClient` with the instance's token, if any.
    pub async fn remote(&self) -> RemoteClient {
        RemoteClient::connect(&self.endpoint, self.token.as_deref())
            .await
            .expect("remote client connects")
    }

    /// A plain arrow-flight client, no token, messages of any size.
    pub async fn flight(&self) -> FlightClient {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.endpoint))
            .expect("endpoint")
            .connect()
            .await
            .expect("channel connects");
        FlightClient::new_from_inner(
            FlightServiceClient::new(channel).max_decoding_message_size(usize::MAX),
        )
    }

    /// A plain arrow-flight client with tonic's defaults (messages of at most 4 MiB).
    pub async fn flight_with_default_limits(&self) -> FlightClient {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.endpoint))
            .expect("endpoint")
            .connect()
            .await
            .expect("channel connects");
        FlightClient::new(channel)
    }

    /// Stops the instance and waits for it; both services must stop cleanly.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let joined = thread.join();
            if !std::thread::panicking() {
                joined.expect("instance thread panicked");
            }
        }
    }
}

impl Drop for TestInstance {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
