//! Put and get through a real in-process server, beside a plain memcpy of the same size.
//!
//! Groups: `put` (create_blob + copy + seal, memcpy beside), `get` (get_blob + touch one
//! byte: constant cost), `small_roundtrip` (8-byte put + create_metadata + get_metadata) and
//! `first_put` (a 256 MiB put into a brand-new server's memory, with and without
//! `reserve_memory`, beside a memcpy into fresh, untouched memory).

use std::hint::black_box;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use tempfile::TempDir;
use tokio::sync::oneshot;
use vineyard_core::{IpcClient, ObjectID, ObjectMeta, Server, ServerConfig};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
const GIB: usize = 1 << 30;
const SIZES: [usize; 6] = [KIB, 64 * KIB, MIB, 16 * MIB, 256 * MIB, GIB];
/// Room for the largest put plus headroom.
const STORE_SIZE: u64 = 5 * (GIB as u64) / 2;
const FIRST_PUT_SIZE: usize = 256 * MIB;

/// A server on a temp socket, served by its own runtime in a background thread.
struct BenchServer {
    socket: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<vineyard_core::Result<()>>>,
    _dir: TempDir,
}

impl BenchServer {
    /// Starts a server with `size` bytes; with `reserve_memory`, waits until all of it is
    /// faulted in (the reservation runs in the background).
    fn start(size: u64, reserve_memory: bool) -> BenchServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::local(dir.path().join("vineyard.sock"), size);
        config.reserve_memory = reserve_memory;
        let socket = config.socket.clone();
        let shmem_before = resident_shared_memory();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let server = runtime
            .block_on(Server::bind(config))
            .expect("server binds");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(server.serve(async {
                let _ = stopped.await;
            }))
        });
        let server = BenchServer {
            socket,
            shutdown: Some(shutdown),
            thread: Some(thread),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while IpcClient::connect(&server.socket)
            .and_then(|client| client.status())
            .is_err()
        {
            assert!(Instant::now() < deadline, "the bench server never answered");
            std::thread::sleep(Duration::from_millis(2));
        }
        if reserve_memory {
            // The server maps its arena in this process: its resident shared memory shows
            // how far the reservation got.
            while resident_shared_memory() < shmem_before + size {
                assert!(
                    Instant::now() < deadline,
                    "memory reservation never finished"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        server
    }

    fn client(&self) -> IpcClient {
        IpcClient::connect(&self.socket).expect("client connects")
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread").expect("server stops");
        }
    }
}

/// `RssShmem` of this process, in bytes.
fn resident_shared_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssShmem:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn label(size: usize) -> String {
    match size {
        size if size >= GIB => format!("{}GiB", size / GIB),
        size if size >= MIB => format!("{}MiB", size / MIB),
        size => format!("{}KiB", size / KIB),
    }
}

/// Bytes touched page by page, so that no benchmark pays for first faults in its source.
fn touched(size: usize) -> Vec<u8> {
    (0..size).map(|index| (index % 251) as u8).collect()
}

/// Small sizes take many samples; big ones a few flat samples of one or two iterations.
fn configure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    size: usize,
) {
    if size >= 256 * MIB {
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(2));
    } else {
        group
            .sampling_mode(SamplingMode::Auto)
            .sample_size(if size >= 16 * MIB { 20 } else { 40 })
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(1500));
    }
}

fn put(client: &IpcClient, bytes: &[u8]) -> ObjectID {
    let mut writer = client.create_blob(bytes.len()).expect("create_blob");
    writer.copy_from_slice(bytes);
    writer.seal().expect("seal")
}

fn bench_put_and_get(c: &mut Criterion) {
    let server = BenchServer::start(STORE_SIZE, true);
    let client = server.client();
    let source = touched(GIB);
    let mut target = touched(GIB);

    let mut group = c.benchmark_group("put");
    for size in SIZES {
        configure(&mut group, size);
        group.throughput(Throughput::Bytes(size as u64));
        let bytes = &source[..size];
        group.bench_function(BenchmarkId::new("vineyard", label(size)), |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let id = put(&client, black_box(bytes));
                    elapsed += started.elapsed();
                    client.delete(&[id], false, true).expect("delete");
                }
                elapsed
            })
        });
        group.bench_function(BenchmarkId::new("memcpy", label(size)), |b| {
            b.iter(|| target[..size].copy_from_slice(black_box(bytes)))
        });
    }
    group.finish();
    black_box(&target);

    let mut group = c.benchmark_group("get");
    for size in SIZES {
        configure(&mut group, size);
        group.throughput(Throughput::Bytes(size as u64));
        let id = put(&client, &source[..size]);
        let reader = server.client();
        group.bench_function(BenchmarkId::new("vineyard", label(size)), |b| {
            b.iter_custom(|iters| {
                // Keep the blobs until the timing ends: the release is a separate request.
                let mut held = Vec::with_capacity(iters as usize);
                let started = Instant::now();
                for _ in 0..iters {
                    let blob = reader.get_blob(black_box(id)).expect("get_blob");
                    black_box(blob[0]);
                    held.push(blob);
                }
                let elapsed = started.elapsed();
                drop(held);
                elapsed
            })
        });
        drop(reader);
        client.delete(&[id], false, true).expect("delete");
    }
    group.finish();

    let mut group = c.benchmark_group("small_roundtrip");
    group
        .sample_size(40)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("put8+create_metadata+get_metadata", |b| {
        b.iter_custom(|iters| {
            let mut created = Vec::with_capacity(iters as usize);
            let started = Instant::now();
            for index in 0..iters {
                let blob = put(&client, &index.to_le_bytes());
                let mut member = ObjectMeta::with_typename("vineyard::Blob");
                member.set_id(blob);
                member.set_instance_id(client.instance_id());
                member.set_nbytes(8);
                member.insert("length", 8);
                let mut meta = ObjectMeta::with_typename("bench::Scalar");
                meta.add_member("buffer_", member);
                meta.set_nbytes(8);
                let object = client.create_metadata(&meta).expect("create_metadata");
                let id = object.id().expect("id");
                black_box(client.get_metadata(id).expect("get_metadata"));
                created.push(id);
            }
            let elapsed = started.elapsed();
            client.delete(&created, true, true).expect("delete");
            elapsed
        })
    });
    group.finish();
}

fn bench_first_put(c: &mut Criterion) {
    let source = touched(FIRST_PUT_SIZE);
    let mut group = c.benchmark_group("first_put");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes(FIRST_PUT_SIZE as u64));
    for reserve_memory in [true, false] {
        let name = if reserve_memory {
            "reserve_memory"
        } else {
            "no_reserve"
        };
        group.bench_function(BenchmarkId::new(name, label(FIRST_PUT_SIZE)), |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let server = BenchServer::start(FIRST_PUT_SIZE as u64, reserve_memory);
                    let client = server.client();
                    let started = Instant::now();
                    black_box(put(&client, &source));
                    elapsed += started.elapsed();
                }
                elapsed
            })
        });
    }
    group.bench_function(
        BenchmarkId::new("memcpy_fresh", label(FIRST_PUT_SIZE)),
        |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    // calloc'd and never touched: every page faults during the copy.
                    let mut fresh = vec![0u8; FIRST_PUT_SIZE];
                    let started = Instant::now();
                    fresh.copy_from_slice(black_box(&source));
                    elapsed += started.elapsed();
                    black_box(&fresh);
                }
                elapsed
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench_put_and_get, bench_first_put);
criterion_main!(benches);
