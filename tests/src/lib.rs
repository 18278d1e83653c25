//! Test support for the crates built on vineyard-core: `TestServer`, a real instance on a temp
//! socket, served from a background thread with its own tokio runtime.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::sync::oneshot;
use vineyard_core::{IpcClient, Result, Server, ServerConfig};

/// Shared memory of a test server.
pub const TEST_SIZE: u64 = 64 << 20;

/// A server running until dropped.
pub struct TestServer {
    socket: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<()>>>,
    // Dropped last: the socket lives inside it.
    _dir: TempDir,
}

impl TestServer {
    /// A server with [`TEST_SIZE`] bytes and no memory reservation.
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::local(dir.path().join("vineyard.sock"), TEST_SIZE);
        config.reserve_memory = false;
        let socket = config.socket.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let server = runtime
            .block_on(Server::bind(config))
            .expect("server binds");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("test-server".into())
            .spawn(move || {
                runtime.block_on(server.serve(async {
                    let _ = stopped.await;
                }))
            })
            .expect("server thread");
        let server = TestServer {
            socket,
            shutdown: Some(shutdown),
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
    #[allow(dead_code)]
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A new registered client.
    pub fn client(&self) -> IpcClient {
        IpcClient::connect(&self.socket).expect("client connects")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let served = thread.join();
            if !std::thread::panicking() {
                served
                    .expect("server thread panicked")
                    .expect("server stops cleanly");
            }
        }
    }
}
