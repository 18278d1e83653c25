//! Cluster metadata figures on a real etcd: persists per second (one client, and 16 clients
//! whose persists share etcd transactions) and the delay from a persist on one instance to
//! its visibility on another (through the watch, not a direct read): the time from sending a
//! `put_name` on instance 1 until a `get_name(wait)` blocked on instance 2 returns.
//!
//! Needs an etcd program: `VINEYARD_ETCD_CMD` or `etcd` on PATH (`make bench` sets it).
//! Run: `cargo bench -p vineyard-core --bench cluster [-- --json PATH]`; with `--json`, the
//! figures are also written to PATH (for `python/benchmarks/report.py`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vineyard_core::cluster::{is_healthy, EtcdMetaStore, MetaStore};
use vineyard_core::{IpcClient, ObjectMeta, Server, ServerConfig};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The etcd process and its data directory (removed after the process is killed).
struct Etcd {
    process: Child,
    _data: tempfile::TempDir,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn start_etcd() -> (Etcd, String) {
    let program = std::env::var_os("VINEYARD_ETCD_CMD")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("etcd"));
    let dir = tempfile::tempdir().unwrap();
    let (client, peer) = (free_port(), free_port());
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let child = Command::new(&program)
        .args(["--name", "bench", "--data-dir"])
        .arg(dir.path())
        .args([
            "--listen-client-urls",
            &client_url,
            "--advertise-client-urls",
            &client_url,
        ])
        .args([
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
        ])
        .args(["--initial-cluster", &format!("bench={peer_url}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
    let address = ([127, 0, 0, 1], client).into();
    while !is_healthy(&address, Duration::from_millis(200)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    (
        Etcd {
            process: child,
            _data: dir,
        },
        client_url,
    )
}

/// Starts an instance on `runtime`, sharing metadata through etcd at `endpoint`.
fn start_instance(
    runtime: &tokio::runtime::Runtime,
    endpoint: &str,
    dir: &tempfile::TempDir,
    name: &str,
) -> PathBuf {
    let socket = dir.path().join(name);
    let mut config = ServerConfig::local(&socket, 64 << 20);
    config.reserve_memory = false;
    let server = runtime.block_on(async {
        let store: Arc<dyn MetaStore> =
            Arc::new(EtcdMetaStore::connect(endpoint, "bench").await.unwrap());
        Server::bind_with(config, store).await.unwrap()
    });
    runtime.spawn(server.serve(std::future::pending()));
    socket
}

fn new_object(client: &IpcClient) -> vineyard_core::ObjectID {
    let meta = client
        .create_metadata(&ObjectMeta::with_typename("bench::Object"))
        .unwrap();
    meta.id().unwrap()
}

fn persists_per_second(socket: &PathBuf, clients: usize, per_client: usize) -> f64 {
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let client = IpcClient::connect(socket).unwrap();
            let ids: Vec<_> = (0..per_client).map(|_| new_object(&client)).collect();
            std::thread::spawn(move || {
                let started = Instant::now();
                for id in ids {
                    client.persist(id).unwrap();
                }
                started.elapsed()
            })
        })
        .collect();
    let slowest = workers
        .into_iter()
        .map(|worker| worker.join().unwrap())
        .max()
        .unwrap();
    (clients * per_client) as f64 / slowest.as_secs_f64()
}

fn main() {
    let (_etcd, endpoint) = start_etcd();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let one = start_instance(&runtime, &endpoint, &dir, "one.sock");
    let two = start_instance(&runtime, &endpoint, &dir, "two.sock");

    let sequential = persists_per_second(&one, 1, 500);
    let concurrent = persists_per_second(&one, 16, 250);

    let client1 = IpcClient::connect(&one).unwrap();
    let client2 = IpcClient::connect(&two).unwrap();
    let mut delays = Vec::new();
    for round in 0..200 {
        let name = format!("visible-{round}");
        let id = new_object(&client1);
        let waiter = {
            let client2 = client2.clone();
            let name = name.clone();
            std::thread::spawn(move || {
                client2.get_name(&name, true).unwrap();
                Instant::now()
            })
        };
        std::thread::sleep(Duration::from_millis(2));
        client1.persist(id).unwrap();
        let published = Instant::now();
        client1.put_name(id, &name).unwrap();
        let seen = waiter.join().unwrap();
        delays.push(seen.saturating_duration_since(published));
    }
    delays.sort();
    let percentile = |p: f64| delays[((delays.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    println!("| measure | value |");
    println!("|---|---|");
    println!("| persists/s, 1 client (each waits for its etcd commit) | {sequential:.0} |");
    println!("| persists/s, 16 clients (group commit) | {concurrent:.0} |");
    println!(
        "| persist-to-visible on another instance, p50 | {:.2} ms |",
        percentile(0.5)
    );
    println!(
        "| persist-to-visible on another instance, p99 | {:.2} ms |",
        percentile(0.99)
    );
    if let Some(path) = json_path() {
        let figures = serde_json::json!({
            "bench": "cluster",
            "persists_per_s_1_client": sequential,
            "persists_per_s_16_clients": concurrent,
            "visible_ms_p50": percentile(0.5),
            "visible_ms_p99": percentile(0.99),
            "rounds": delays.len(),
        });
        std::fs::write(&path, format!("{figures:#}\n"))
            .unwrap_or_else(|error| panic!("cannot write {path}: {error}"));
    }
}

/// The PATH of a `--json PATH` argument (cargo bench passes its own `--bench` too).
fn json_path() -> Option<String> {
    let mut args = std::env::args().skip_while(|arg| arg != "--json");
    args.nth(1)
}
