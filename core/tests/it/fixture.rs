//! `TestServer`: a real server on a temp socket, served from a background thread.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::sync::Arc;
use tempfile::TempDir;

use tokio::sync::oneshot;
use vineyard_core::cluster::{LocalMetaStore, MetaStore};
use vineyard_core::server::Shared;
use vineyard_core::{Error, IpcClient, Result, Server, ServerConfig};

/// Shared memory of a test server unless a test asks for more.
pub const TEST_SIZE: u64 = 64 << 20;

/// A server running on its own tokio runtime until dropped.
pub struct TestServer {
    socket: PathBuf,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    crash: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<()>>>,
    // Dropped last: the socket lives inside it.
    _dir: TempDir,
}

impl TestServer {
    /// A server with [`TEST_SIZE`] bytes and no memory reservation.
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    /// A server with `size` bytes and no memory reservation.
    pub fn with_size(size: u64) -> TestServer {
        TestServer::start_with(|config| config.size = size)
    }

    /// A server on a fresh temp socket, after `configure` adjusted its config.
    pub fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_in(|_| Arc::new(LocalMetaStore::new()), configure)
    }

    /// A server that shares metadata through the store `cluster` makes on the server's
    /// runtime, after `configure` adjusted its config.
    pub fn start_in(
        cluster: impl FnOnce(&tokio::runtime::Runtime) -> Arc<dyn MetaStore>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::local(dir.path().join("vineyard.sock"), TEST_SIZE);
        config.reserve_memory = false;
        configure(&mut config);
        let socket = config.socket.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let cluster = cluster(&runtime);
        let server = runtime
            .block_on(Server::bind_with(config, cluster))
            .expect("server binds");
        let shared = Arc::clone(server.shared());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let (crash, crashed) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("test-server".into())
            .spawn(move || {
                let outcome = runtime.block_on(async {
                    tokio::select! {
                        served = server.serve(async { let _ = stopped.await; }) => Some(served),
                        Ok(()) = crashed => None,
                    }
                });
                match outcome {
                    Some(served) => served,
                    None => {
                        // Like a killed process: tasks stop mid-flight, nothing says goodbye.
                        runtime.shutdown_background();
                        Ok(())
                    }
                }
            })
            .expect("server thread");
        let server = TestServer {
            socket,
            shared,
            shutdown: Some(shutdown),
            crash: Some(crash),
            thread: Some(thread),
            _dir: dir,
        };
        server.wait_until_serving();
        server
    }

    fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match IpcClient::connect(&self.socket).and_then(|client| client.status()) {
                Ok(_) => return,
                Err(error) if Instant::now() > deadline => {
                    panic!(
                        "server on {} never answered: {error}",
                        self.socket.display()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// The server's socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The server's state, e.g. to lock its table (which stops it from answering).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// A new registered client.
    pub fn client(&self) -> IpcClient {
        IpcClient::connect(&self.socket).expect("client connects")
    }

    /// Bytes of shared memory in use, asked over a fresh connection.
    pub fn memory_usage(&self) -> u64 {
        self.client().status().expect("status").memory_usage
    }

    /// Polls until `memory_usage` equals `expected` (frees on disconnect or on a release, which is not awaited, are asynchronous).
    pub fn wait_for_memory_usage(&self, expected: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let usage = self.memory_usage();
            if usage == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "memory_usage stayed at {usage}, expected {expected}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the server the way a killed process stops: no clean shutdown, no goodbye to the
    /// cluster (its lease just stops being renewed).
    pub fn crash(mut self) {
        if let Some(crash) = self.crash.take() {
            let _ = crash.send(());
        }
        self.shutdown.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops the server, waits for its thread and checks that it removed its socket.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let served = thread.join();
            if std::thread::panicking() {
                return;
            }
            served
                .expect("server thread panicked")
                .expect("server stops cleanly");
            assert!(
                !self.socket.exists(),
                "server left its socket {} behind",
                self.socket.display()
            );
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Binds a server inside `runtime` (tokio's listener needs a reactor).
pub fn bind(runtime: &tokio::runtime::Runtime, config: ServerConfig) -> Result<Server> {
    runtime.block_on(Server::bind(config))
}

/// The error `Server::bind` gives for `config` (panics if binding succeeds).
pub fn bind_error(config: ServerConfig) -> Error {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match bind(&runtime, config) {
        Ok(_) => panic!("bind succeeded where it should have failed"),
        Err(error) => error,
    }
}

/// True if something accepts connections on `socket`.
pub fn accepts(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok()
}
