//! The command line of `vineyardd` (and `python -m vineyard`): Vineyard's flags, then run.

use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgAction, Parser, ValueEnum};

use super::config::{
    DEFAULT_MAX_REQUEST_MEMORY, DEFAULT_MAX_REQUEST_SIZE, DEFAULT_SPILL_LOWER_RATE,
    DEFAULT_SPILL_UPPER_RATE,
};
use super::rpc::{
    bind_rpc, RpcOptions, RpcService, DEFAULT_RPC_MAX_COLUMNS, DEFAULT_RPC_MAX_MESSAGE_SIZE,
    DEFAULT_SQL_MEMORY_LIMIT,
};
use super::{MetaBackend, Restorer, Server, ServerConfig};
use crate::size::parse_size;
use crate::table::Limits;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Meta {
    /// etcd if one answers or can be started here, otherwise alone.
    Auto,
    /// In-process metadata: this instance runs alone.
    Local,
    /// A shared etcd, which must answer.
    Etcd,
}

/// Vineyard's flags; each also accepts its dashed spelling (`--etcd-endpoint`).
#[derive(Parser, Debug)]
#[command(
    name = "vineyardd",
    version,
    about = "A vineyard instance: shared-memory object store"
)]
struct Flags {
    /// UNIX socket for IPC clients.
    #[arg(long, default_value = "/var/run/vineyard.sock")]
    socket: PathBuf,
    /// Permission bits of the socket file, in octal: 600 lets only this user connect, 660 its
    /// group too, 666 everyone.
    #[arg(long = "socket_mode", alias = "socket-mode", default_value = "600",
          value_parser = super::socket::parse_mode)]
    socket_mode: u32,
    /// Shared memory for blobs, e.g. 512Mi, 4Gi, 8G.
    #[arg(long, default_value = "256Mi", value_parser = size)]
    size: u64,
    /// Where cluster metadata lives: auto (etcd if one answers or can be started here,
    /// otherwise alone), local, or etcd.
    #[arg(long, value_enum, default_value = "auto")]
    meta: Meta,
    /// etcd endpoint shared by the instances of a cluster.
    #[arg(
        long = "etcd_endpoint",
        alias = "etcd-endpoint",
        env = "VINEYARD_ETCD_ENDPOINT",
        default_value = "http://127.0.0.1:2379"
    )]
    etcd_endpoint: String,
    /// The etcd program to start when none answers (default: `etcd` on PATH).
    #[arg(long = "etcd_cmd", alias = "etcd-cmd", env = "VINEYARD_ETCD_CMD")]
    etcd_cmd: Option<PathBuf>,
    /// Key prefix in etcd.
    #[arg(
        long = "etcd_prefix",
        alias = "etcd-prefix",
        default_value = "vineyard"
    )]
    etcd_prefix: String,
    /// Port of the RPC (Flight) service.
    #[arg(
        long = "rpc_socket_port",
        alias = "rpc-socket-port",
        alias = "rpc-port",
        default_value_t = 9600
    )]
    rpc_socket_port: u16,
    /// Serve RPC (Arrow Flight) beside IPC: true or false.
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    rpc: bool,
    /// Address the RPC service binds (loopback unless told otherwise, e.g. 0.0.0.0).
    #[arg(long = "rpc_host", alias = "rpc-host", default_value = "127.0.0.1")]
    rpc_host: String,
    /// Token every RPC call must carry (`authorization: Bearer <token>`); none by default.
    #[arg(long = "rpc_token", alias = "rpc-token", env = "VINEYARD_RPC_TOKEN")]
    rpc_token: Option<String>,
    /// Columns (nested fields counted) one RPC put may carry; wider tables are refused.
    #[arg(long = "rpc_max_columns", alias = "rpc-max-columns",
          default_value_t = DEFAULT_RPC_MAX_COLUMNS)]
    rpc_max_columns: usize,
    /// Largest RPC message accepted, e.g. 256Mi; larger ones are refused.
    #[arg(long = "rpc_max_message_size", alias = "rpc-max-message-size",
          default_value_t = DEFAULT_RPC_MAX_MESSAGE_SIZE, value_parser = size)]
    rpc_max_message_size: u64,
    /// PEM certificate (chain) to serve RPC over TLS with; needs --rpc_tls_key. Plain-text
    /// clients are then refused.
    #[arg(
        long = "rpc_tls_cert",
        alias = "rpc-tls-cert",
        requires = "rpc_tls_key"
    )]
    rpc_tls_cert: Option<PathBuf>,
    /// PEM private key of --rpc_tls_cert.
    #[arg(long = "rpc_tls_key", alias = "rpc-tls-key", requires = "rpc_tls_cert")]
    rpc_tls_key: Option<PathBuf>,
    /// Memory all SQL queries (Flight SQL) may hold at once, e.g. 2Gi; a query that needs
    /// more fails. 0: no limit.
    #[arg(long = "sql_memory_limit", alias = "sql-memory-limit", value_parser = size,
          default_value_t = DEFAULT_SQL_MEMORY_LIMIT)]
    sql_memory_limit: u64,
    /// Directory for spilling cold blobs when memory runs short (none: spilling is off).
    #[arg(long = "spill_path", alias = "spill-path")]
    spill_path: Option<PathBuf>,
    /// Spilling goes on until memory use is under this share of --size.
    #[arg(long = "spill_lower_rate", alias = "spill-lower-rate",
          default_value_t = DEFAULT_SPILL_LOWER_RATE, value_parser = rate)]
    spill_lower_rate: f64,
    /// Memory use above this share of --size starts spilling cold blobs.
    #[arg(long = "spill_upper_rate", alias = "spill-upper-rate",
          default_value_t = DEFAULT_SPILL_UPPER_RATE, value_parser = rate)]
    spill_upper_rate: f64,
    /// Load every object saved at this URL (file://, s3://) at start, names included; the
    /// socket appears once they are loaded.
    #[arg(long = "restore_from", alias = "restore-from")]
    restore_from: Option<String>,
    /// Largest metadata of one object (its own tree, members as links), in bytes or with a
    /// unit (16Mi).
    #[arg(long = "max_object_metadata", alias = "max-object-metadata", value_parser = size,
          default_value_t = Limits::default().object_metadata)]
    max_object_metadata: u64,
    /// Most metadata the instance holds in all (trees, names), in bytes or with a unit (1Gi);
    /// `status` reports how much it holds.
    #[arg(long = "max_metadata", alias = "max-metadata", value_parser = size,
          default_value_t = Limits::default().metadata)]
    max_metadata: u64,
    /// Longest name, in bytes.
    #[arg(long = "max_name_length", alias = "max-name-length",
          default_value_t = Limits::default().name_length)]
    max_name_length: usize,
    /// Most members of one object.
    #[arg(long = "max_members", alias = "max-members", default_value_t = Limits::default().members)]
    max_members: usize,
    /// Largest request a client may send, in bytes or with a unit (64Mi).
    #[arg(long = "max_request_size", alias = "max-request-size", value_parser = size,
          default_value_t = DEFAULT_MAX_REQUEST_SIZE)]
    max_request_size: u64,
    /// Bytes of requests the server reads from all clients at once, in bytes or with a unit
    /// (256Mi): a large request past it is refused.
    #[arg(long = "max_request_memory", alias = "max-request-memory", value_parser = size,
          default_value_t = DEFAULT_MAX_REQUEST_MEMORY)]
    max_request_memory: u64,
    /// Fault in all shared memory at start-up (in the background), so that first writes run at
    /// memory speed: true or false.
    #[arg(long = "reserve_memory", alias = "reserve-memory", default_value = "true",
          num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    reserve_memory: bool,
}

fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a share of the memory: give a number between 0 and 1, e.g. 0.8"
        )),
    }
}

fn size(text: &str) -> Result<u64, String> {
    parse_size(text).map_err(|error| error.to_string())
}

impl Flags {
    fn rpc_options(&self) -> RpcOptions {
        RpcOptions {
            enabled: self.rpc,
            host: self.rpc_host.clone(),
            port: self.rpc_socket_port,
            token: self.rpc_token.clone(),
            max_columns: self.rpc_max_columns,
            max_message_size: self.rpc_max_message_size,
            tls_cert: self.rpc_tls_cert.clone(),
            tls_key: self.rpc_tls_key.clone(),
            sql_memory_limit: self.sql_memory_limit,
        }
    }

    fn into_config(self) -> ServerConfig {
        ServerConfig {
            meta: match self.meta {
                Meta::Auto => MetaBackend::Auto,
                Meta::Local => MetaBackend::Local,
                Meta::Etcd => MetaBackend::Etcd,
            },
            etcd_endpoint: self.etcd_endpoint,
            etcd_cmd: self.etcd_cmd,
            etcd_prefix: self.etcd_prefix,
            rpc_socket_port: self.rpc_socket_port,
            spill_path: self.spill_path,
            spill_lower_rate: self.spill_lower_rate,
            spill_upper_rate: self.spill_upper_rate,
            restore_from: self.restore_from,
            reserve_memory: self.reserve_memory,
            socket_mode: self.socket_mode,
            limits: Limits {
                object_metadata: self.max_object_metadata,
                metadata: self.max_metadata,
                name_length: self.max_name_length,
                members: self.max_members,
            },
            max_request_size: self.max_request_size,
            max_request_memory: self.max_request_memory,
            ..ServerConfig::local(self.socket, self.size)
        }
    }
}

/// Parses `args` (the program name first) and runs a server, without an RPC service, until
/// SIGINT or SIGTERM. Returns the process exit code; problems are printed as one clear line.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> i32 {
    run_with(args, None)
}

/// Like [`run`], with `rpc` served beside the IPC server unless `--rpc false`.
pub fn run_with(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    rpc: Option<Box<dyn RpcService>>,
) -> i32 {
    run_with_restorer(args, rpc, None)
}

/// Like [`run_with`], with `restorer` loading a `--restore_from` snapshot at start.
pub fn run_with_restorer(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    rpc: Option<Box<dyn RpcService>>,
    restorer: Option<Arc<dyn Restorer>>,
) -> i32 {
    let flags = match Flags::try_parse_from(args) {
        Ok(flags) => flags,
        Err(error) => {
            let _ = error.print();
            return error.exit_code();
        }
    };
    crate::sys::ignore_file_size_signal();
    crate::sys::raise_open_file_limit();
    // Another embedder (or a second run in one process) may have installed one already.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vineyardd: cannot start the async runtime: {error}");
            return 1;
        }
    };
    let options = flags.rpc_options();
    let mut config = flags.into_config();
    let result = runtime.block_on(async {
        let mut rpc = rpc.filter(|_| options.enabled);
        if let Some(service) = rpc.as_mut() {
            bind_rpc(service.as_mut(), &options, &mut config)?;
        }
        let shutdown = shutdown_signal();
        let server = Server::start(config).await?.with_restorer(restorer);
        server.serve_with(rpc, shutdown).await
    });
    match result {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("vineyardd: {error}");
            1
        }
    }
}

/// SIGINT or SIGTERM. The handlers are installed when this is called, not when the future is
/// first polled: a signal that arrives while the server starts (its socket already visible)
/// is then kept for `serve`, instead of killing the process or being lost.
fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (terminate, interrupt) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = interrupt.recv() => {},
                    _ = terminate.recv() => {},
                }
            }
            (Ok(mut only), Err(_)) | (Err(_), Ok(mut only)) => {
                only.recv().await;
            }
            (Err(_), Err(_)) => std::future::pending().await,
        }
    }
}
