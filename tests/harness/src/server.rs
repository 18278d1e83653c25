//! `TestServer`: a real instance served from a background thread until stopped, crashed or
//! dropped.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::sync::oneshot;
use vineyard_core::cluster::{LocalMetaStore, MetaStore};
use vineyard_core::server::rpc::bind_rpc;
use vineyard_core::server::{RpcService, Shared};
use vineyard_core::{IpcClient, Result, Server, ServerConfig};

use crate::builder::TestServerBuilder;
use crate::rpc::{Outcome, Watched};

/// How long a server may take to answer its first status request.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`TestServer::wait_for_memory_usage`] waits.
const MEMORY_TIMEOUT: Duration = Duration::from_secs(5);

/// A server running on its own thread and tokio runtime until stopped, crashed or dropped
/// (dropping it stops it like [`stop`](TestServer::stop), without panicking twice).
pub struct TestServer {
    socket: PathBuf,
    shared: Arc<Shared>,
    rpc: Option<Rpc>,
    shutdown: Option<oneshot::Sender<()>>,
    crash: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<()>>>,
    // Dropped last: the socket lives inside it.
    _dir: TempDir,
}

/// The RPC service beside the IPC server.
struct Rpc {
    endpoint: String,
    token: Option<String>,
    outcome: Outcome,
}

/// What the server's thread hands back once the server is bound.
struct Bound {
    socket: PathBuf,
    shared: Arc<Shared>,
    rpc_endpoint: Option<String>,
}

impl TestServer {
    /// A server with the defaults of [`TestServerBuilder`]: [`TEST_SIZE`](crate::TEST_SIZE)
    /// bytes, alone, no RPC service.
    pub fn start() -> TestServer {
        TestServer::builder().start()
    }

    /// What to start, to be adjusted and then [`start`](TestServerBuilder::start)ed.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::new()
    }

    pub(crate) fn launch(plan: TestServerBuilder) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::local(dir.path().join("vineyard.sock"), plan.size);
        config.reserve_memory = false;
        let (service, options, outcome) = match plan.rpc {
            Some((service, options)) => {
                let (watched, outcome) = Watched::new(service);
                (Some(watched), Some(options), Some(outcome))
            }
            None => (None, None, None),
        };
        let token = options.as_ref().and_then(|options| options.token.clone());
        let (bound, bound_here) = mpsc::channel::<Bound>();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let (crash, crashed) = oneshot::channel::<()>();
        // Everything runs on the server's thread: the runtime may not be built, nor blocked
        // on, from a test that runs on a runtime itself.
        let thread = std::thread::Builder::new()
            .name("test-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                for configure in plan.configure {
                    configure(&mut config);
                }
                let cluster: Arc<dyn MetaStore> = match plan.cluster {
                    Some(make) => make(&runtime),
                    None => Arc::new(LocalMetaStore::new()),
                };
                let mut service = service;
                let (server, socket, rpc_endpoint) = runtime.block_on(async {
                    if let (Some(service), Some(options)) = (service.as_mut(), &options) {
                        bind_rpc(service, options, &mut config)?;
                    }
                    let (socket, endpoint) = (config.socket.clone(), config.rpc_endpoint.clone());
                    Server::bind_with(config, cluster)
                        .await
                        .map(|server| (server, socket, endpoint))
                })?;
                let _ = bound.send(Bound {
                    socket,
                    shared: Arc::clone(server.shared()),
                    rpc_endpoint,
                });
                let rpc = service.map(|service| Box::new(service) as Box<dyn RpcService>);
                let outcome = runtime.block_on(async {
                    tokio::select! {
                        biased;
                        Ok(()) = crashed => None,
                        served = server.serve_with(rpc, async { let _ = stopped.await; }) => {
                            Some(served)
                        }
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
        let Bound {
            socket,
            shared,
            rpc_endpoint,
        } = match bound_here.recv() {
            Ok(bound) => bound,
            // The thread ended before binding: show why.
            Err(_) => match thread.join() {
                Ok(Err(error)) => panic!("the test server did not start: {error}"),
                Ok(Ok(())) => unreachable!("the server thread ends only after binding"),
                Err(panic) => std::panic::resume_unwind(panic),
            },
        };
        let rpc = outcome.map(|outcome| Rpc {
            endpoint: rpc_endpoint.expect("an RPC service announces its endpoint"),
            token,
            outcome,
        });
        let server = TestServer {
            socket,
            shared,
            rpc,
            shutdown: Some(shutdown),
            crash: Some(crash),
            thread: Some(thread),
            _dir: dir,
        };
        server.wait_until_serving();
        server
    }

    fn wait_until_serving(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while let Err(error) = IpcClient::connect(&self.socket).and_then(|client| client.status()) {
            assert!(
                Instant::now() < deadline,
                "server on {} never answered: {error}",
                self.socket.display()
            );
            std::thread::sleep(Duration::from_millis(5));
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

    /// The `host:port` of the RPC service, if the server has one.
    pub fn rpc_endpoint(&self) -> Option<&str> {
        self.rpc.as_ref().map(|rpc| rpc.endpoint.as_str())
    }

    /// The token calls to the RPC service must carry, if it has one.
    pub fn rpc_token(&self) -> Option<&str> {
        self.rpc.as_ref().and_then(|rpc| rpc.token.as_deref())
    }

    /// Bytes of shared memory in use, asked over a fresh connection.
    pub fn memory_usage(&self) -> u64 {
        self.client().status().expect("status").memory_usage
    }

    /// Polls until [`memory_usage`](Self::memory_usage) equals `expected` (frees on a
    /// disconnect, or on a release that is not awaited, happen asynchronously).
    pub fn wait_for_memory_usage(&self, expected: u64) {
        let deadline = Instant::now() + MEMORY_TIMEOUT;
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
    /// cluster (its lease just stops being renewed), the socket file left behind.
    pub fn crash(mut self) {
        if let Some(crash) = self.crash.take() {
            let _ = crash.send(());
        }
        // Kept until the thread is gone: dropping it would ask for a clean shutdown.
        let _shutdown = self.shutdown.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops the server and waits for its thread; the IPC server and the RPC service (if
    /// any) must stop cleanly, and the socket file must be gone.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let Some(thread) = self.thread.take() else {
            return;
        };
        let served = thread.join();
        if std::thread::panicking() {
            return;
        }
        served
            .expect("server thread panicked")
            .expect("server stops cleanly");
        if let Some(rpc) = &self.rpc {
            let outcome = rpc
                .outcome
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .take();
            match outcome {
                Some(Ok(())) => {}
                Some(Err(error)) => panic!("the RPC service failed: {error}"),
                None => panic!("the RPC service was still running after the server stopped"),
            }
        }
        assert!(
            !self.socket.exists(),
            "server left its socket {} behind",
            self.socket.display()
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
