//! `FlightService`: the `RpcService` that `vineyardd` and `python -m vineyard` run beside the
//! IPC server.
//!
//! `bind` takes the TCP port before the instance joins the cluster, so the endpoint it returns
//! is announced to clients (`rpc_endpoint` in register replies) and to the other instances.
//! If the port asked for is taken, it binds any free port instead and says so: an instance's
//! IPC service matters more than its port number, and its endpoint is announced either way
//! (two instances started with default flags on one machine both serve Flight).
//!
//! With `--rpc_tls_cert` and `--rpc_tls_key` it serves TLS only (see `tls`) and announces
//! `grpc+tls://host:port`.
//!
//! The same port serves Vineyard's own RPC protocol (`vineyard_rpc`): `route` tells each
//! connection's protocol by its first bytes and hands Vineyard RPC clients to their handler.

use std::future::Future;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use arrow_flight::flight_service_server::FlightServiceServer;
use tokio_rustls::rustls::ServerConfig;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use vineyard_core::server::{RpcOptions, RpcService};

use crate::auth::TokenCheck;
use crate::counted::CountedStream;
use crate::direct::DirectRoute;
use crate::error::{Error, Result};
use crate::handler::Handler;
use crate::instance::Instance;
use crate::limits::Limits;
use crate::route;
use crate::sql_route::SqlSetup;
use crate::tls;
use crate::vineyard_rpc::RpcContext;

/// How long in-flight calls may run on after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The HTTP/2 flow-control window each call may fill before the server reads it: a `do_put`
/// of large batches streams on instead of waiting for a window update every 64 KiB (h2's
/// default).
const STREAM_WINDOW: u32 = 8 << 20;

/// The window of a whole connection: the most unread request data one connection can leave
/// in the server's memory.
const CONNECTION_WINDOW: u32 = 16 << 20;

/// The largest HTTP/2 frame the server accepts (h2's default is 16 KiB): fewer frames per
/// streamed batch.
const MAX_FRAME: u32 = 1 << 20;

/// The Arrow Flight service of one instance.
#[derive(Default)]
pub struct FlightService {
    listener: Option<TcpListener>,
    endpoint: Option<String>,
    token: Option<String>,
    limits: Limits,
    /// The TLS configuration, when serving TLS.
    tls: Option<Arc<ServerConfig>>,
    /// TCP connections open now.
    open_connections: Arc<AtomicUsize>,
    /// Bytes SQL queries may hold at once (`--sql_memory_limit`); `None`: no limit.
    sql_memory_limit: Option<u64>,
}

impl FlightService {
    /// A service not bound yet.
    pub fn new() -> FlightService {
        FlightService::default()
    }

    /// The announced endpoint once bound: `host:port`, or `grpc+tls://host:port` with TLS.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    fn bind_listener(&mut self, options: &RpcOptions) -> Result<String> {
        let tls = match (&options.tls_cert, &options.tls_key) {
            (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
            (None, None) => None,
            (Some(_), None) => {
                return Err(Error::invalid(
                    "--rpc_tls_cert needs --rpc_tls_key (the certificate's PEM private key)",
                ))
            }
            (None, Some(_)) => {
                return Err(Error::invalid(
                    "--rpc_tls_key needs --rpc_tls_cert (the PEM certificate chain to serve)",
                ))
            }
        };
        let addresses: Vec<SocketAddr> = (options.host.as_str(), options.port)
            .to_socket_addrs()
            .map_err(|source| Error::Io {
                message: format!("cannot resolve the RPC host `{}`", options.host),
                source,
            })?
            .collect();
        let listener = match TcpListener::bind(addresses.as_slice()) {
            Ok(listener) => listener,
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse && options.port != 0 => {
                let any: Vec<SocketAddr> = addresses
                    .iter()
                    .map(|address| SocketAddr::new(address.ip(), 0))
                    .collect();
                let listener = TcpListener::bind(any.as_slice()).map_err(|source| Error::Io {
                    message: format!("cannot bind the RPC service to {}", options.host),
                    source,
                })?;
                tracing::warn!(
                    "RPC port {} on {} is taken; serving Flight on port {} instead \
                     (choose one with --rpc_socket_port)",
                    options.port,
                    options.host,
                    listener.local_addr().map(|a| a.port()).unwrap_or_default()
                );
                listener
            }
            Err(source) => {
                return Err(Error::Io {
                    message: format!(
                        "cannot bind the RPC service to {}:{}",
                        options.host, options.port
                    ),
                    source,
                })
            }
        };
        listener.set_nonblocking(true).map_err(|source| Error::Io {
            message: "cannot make the RPC listener non-blocking".into(),
            source,
        })?;
        let local = listener.local_addr().map_err(|source| Error::Io {
            message: "cannot read the RPC listener's address".into(),
            source,
        })?;
        let endpoint = match tls {
            Some(_) => format!("{TLS_SCHEME}{}", announced(local)),
            None => announced(local),
        };
        self.listener = Some(listener);
        self.endpoint = Some(endpoint.clone());
        self.token = options.token.clone();
        self.limits = Limits::from_options(options);
        self.sql_memory_limit = (options.sql_memory_limit > 0).then_some(options.sql_memory_limit);
        self.tls = tls;
        Ok(endpoint)
    }

    async fn run(
        self,
        socket: PathBuf,
        shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Result<()> {
        let listener = self.listener.ok_or_else(|| Error::Protocol {
            message: "the Flight service was served before it was bound".into(),
        })?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|source| Error::Io {
            message: "cannot register the RPC listener with the runtime".into(),
            source,
        })?;
        let open = Arc::clone(&self.open_connections);
        let accepted = TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .map(move |accepted| accepted.map(|stream| CountedStream::new(stream, open.clone())));
        let vineyard_rpc = Arc::new(RpcContext {
            socket: socket.clone(),
            token: self.token.clone(),
            max_frame: self.limits.max_message_size as u64,
        });
        let flight = route::flight_connections(accepted, vineyard_rpc, self.tls.is_some());
        let incoming = tls::connections(flight, self.tls.clone());
        let instance = Instance::new(socket.clone());
        let token = TokenCheck::new(self.token.as_deref());
        let sql = SqlSetup {
            socket,
            token: self.token.clone(),
            memory_limit: self.sql_memory_limit,
        };
        let flight = InterceptedService::new(
            FlightServiceServer::new(Handler::new(Arc::clone(&instance), self.limits, sql))
                .max_decoding_message_size(self.limits.max_message_size)
                .max_encoding_message_size(usize::MAX),
            token.clone(),
        );
        let server = DirectRoute::new(flight, instance, token, self.limits);
        tracing::info!(
            endpoint = self.endpoint.as_deref().unwrap_or(""),
            "serving Arrow Flight"
        );
        let (stopping, stop) = tokio::sync::oneshot::channel::<()>();
        let serve = tonic::transport::Server::builder()
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME)
            .add_service(server)
            .serve_with_incoming_shutdown(incoming, async move {
                shutdown.await;
                let _ = stopping.send(());
            });
        tokio::pin!(serve);
        // Calls still streaming when shutdown is asked for get a grace period, not forever.
        let deadline = async move {
            if stop.await.is_ok() {
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = &mut serve => served.map_err(|error| Error::Io {
                message: "the Flight service stopped".into(),
                source: std::io::Error::other(error),
            }),
            () = deadline => {
                tracing::warn!("Flight calls still running {SHUTDOWN_GRACE:?} after shutdown were cut off");
                Ok(())
            }
        }
    }
}

/// How an endpoint served over TLS is announced.
pub const TLS_SCHEME: &str = "grpc+tls://";

impl std::fmt::Debug for FlightService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightService")
            .field("endpoint", &self.endpoint)
            .field("limits", &self.limits)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// The `host:port` to announce for a bound address: an unspecified address (0.0.0.0) is not
/// reachable as such, so the machine's hostname stands in.
fn announced(local: SocketAddr) -> String {
    if local.ip().is_unspecified() {
        format!("{}:{}", hostname(), local.port())
    } else {
        local.to_string()
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl RpcService for FlightService {
    fn bind(&mut self, options: &RpcOptions) -> vineyard_core::Result<String> {
        self.bind_listener(options)
            .map_err(|error| vineyard_core::Error::invalid(error.to_string()))
    }

    fn open_connections(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.open_connections)
    }

    /// Serves on a runtime of its own: dropping a blob makes a blocking IPC call to the
    /// instance, and the Flight service must never block the threads the IPC server answers
    /// on (they may be the only ones it has).
    fn serve(
        self: Box<Self>,
        socket: PathBuf,
        shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Pin<Box<dyn Future<Output = vineyard_core::Result<()>> + Send>> {
        Box::pin(async move {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let (done, finished) = tokio::sync::oneshot::channel();
            let service = *self;
            std::thread::Builder::new()
                .name("vineyard-flight".into())
                .spawn(move || {
                    let result = flight_runtime().and_then(|runtime| {
                        let served = runtime.block_on(service.run(
                            socket,
                            Box::pin(async move {
                                let _ = stopped.await;
                            }),
                        ));
                        runtime.shutdown_timeout(SHUTDOWN_GRACE);
                        served
                    });
                    let _ = done.send(result);
                })
                .map_err(|error| {
                    vineyard_core::Error::invalid(format!(
                        "cannot start the Flight service's thread: {error}"
                    ))
                })?;
            tokio::pin!(shutdown, finished);
            let result = tokio::select! {
                result = &mut finished => result,
                () = &mut shutdown => {
                    let _ = stop.send(());
                    finished.await
                }
            };
            match result {
                Ok(served) => {
                    served.map_err(|error| vineyard_core::Error::invalid(error.to_string()))
                }
                Err(_) => Err(vineyard_core::Error::invalid(
                    "the Flight service's thread ended without a word",
                )),
            }
        })
    }
}

/// The Flight service's runtime: a few worker threads, apart from the IPC server's.
fn flight_runtime() -> Result<tokio::runtime::Runtime> {
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2)
        .clamp(2, 4);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("vineyard-flight")
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            message: "cannot start the Flight service's runtime".into(),
            source,
        })
}
