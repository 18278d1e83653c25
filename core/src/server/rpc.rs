//! The seam for a service run beside the IPC server (the Arrow Flight service of
//! `vineyard-flight-server`): bound before the instance joins the cluster so that its
//! endpoint is announced, served while the IPC server accepts clients, stopped with it.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use super::ServerConfig;

/// Columns a `do_put` stream may have by default (`--rpc_max_columns`).
pub const DEFAULT_RPC_MAX_COLUMNS: usize = 10_000;

/// Largest RPC message accepted by default (`--rpc_max_message_size`): 256 MiB.
pub const DEFAULT_RPC_MAX_MESSAGE_SIZE: u64 = 256 << 20;

/// Bytes all SQL queries of an instance may hold at once by default (`--sql_memory_limit`):
/// 2 GiB.
pub const DEFAULT_SQL_MEMORY_LIMIT: u64 = 2 << 30;

/// How the RPC service beside the IPC server is to be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcOptions {
    /// Whether to run it at all.
    pub enabled: bool,
    /// Address to bind.
    pub host: String,
    /// Port to bind (0: any free port).
    pub port: u16,
    /// Token every call must carry, if set.
    pub token: Option<String>,
    /// Columns (nested fields counted) a `do_put` stream may have.
    pub max_columns: usize,
    /// Largest message accepted, in bytes.
    pub max_message_size: u64,
    /// PEM certificate chain to serve TLS with (with `tls_key`); plain text without.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Bytes all SQL queries (Flight SQL) may hold at once; 0: no limit.
    pub sql_memory_limit: u64,
}

impl Default for RpcOptions {
    /// Enabled on 127.0.0.1:9600, no token, the default limits, no TLS.
    fn default() -> RpcOptions {
        RpcOptions {
            enabled: true,
            host: "127.0.0.1".into(),
            port: 9600,
            token: None,
            max_columns: DEFAULT_RPC_MAX_COLUMNS,
            max_message_size: DEFAULT_RPC_MAX_MESSAGE_SIZE,
            tls_cert: None,
            tls_key: None,
            sql_memory_limit: DEFAULT_SQL_MEMORY_LIMIT,
        }
    }
}

/// A service run beside the IPC server (Arrow Flight): bound before the instance joins the
/// cluster so that its endpoint is announced, served once the IPC server accepts clients.
pub trait RpcService: Send + 'static {
    /// Binds the service; returns the `host:port` clients should use.
    fn bind(&mut self, options: &RpcOptions) -> crate::Result<String>;

    /// The number of connections the service has open, kept up to date by it (reported as
    /// `rpc_connections` in the instance's status).
    fn open_connections(&self) -> Arc<AtomicUsize>;

    /// Serves until `shutdown` resolves, reaching the instance through its IPC `socket`.
    fn serve(
        self: Box<Self>,
        socket: PathBuf,
        shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Pin<Box<dyn Future<Output = crate::Result<()>> + Send>>;
}

/// Binds `service` and records its endpoint and connection count in `config`, so that the
/// instance announces the endpoint (to its clients and the cluster) and counts the
/// connections in its status. Serve it with [`super::Server::serve_with`].
pub fn bind_rpc(
    service: &mut dyn RpcService,
    options: &RpcOptions,
    config: &mut ServerConfig,
) -> crate::Result<()> {
    config.rpc_endpoint = Some(service.bind(options)?);
    config.rpc_connections = Some(service.open_connections());
    Ok(())
}
