//! At its open-file limit the server neither spins nor hangs new clients: it refuses them
//! with a clear error, logs the shortage once, and accepts again when clients leave.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vineyard_core::{Code, Error, IpcClient};

/// Set in the child that `clients_past_the_open_file_limit_are_refused_clearly` starts.
const NOFILE_CHILD: &str = "VINEYARD_TEST_NOFILE_CHILD";

/// The server's open-file limit (soft and hard: it cannot raise it).
const LIMIT: u64 = 64;

/// The child half of the test below: a server under `ulimit -n 64`.
#[test]
fn nofile_limited_child() {
    let Some(socket) = std::env::var_os(NOFILE_CHILD) else {
        return;
    };
    let code = vineyard_core::server::cli::run([
        "vineyardd".into(),
        "--socket".into(),
        socket,
        "--size".into(),
        "16Mi".into(),
        "--meta".into(),
        "local".into(),
        "--reserve_memory".into(),
        "false".into(),
    ]);
    std::process::exit(code);
}

/// The server process, killed if the test fails before stopping it.
struct KilledOnDrop(std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Connects on another thread; `None` if that did not finish in time (a hung client).
fn connect_within(socket: &std::path::Path, limit: Duration) -> Option<Result<IpcClient, Error>> {
    let (sender, receiver) = mpsc::channel();
    let socket = socket.to_path_buf();
    std::thread::spawn(move || {
        let _ = sender.send(IpcClient::connect(&socket).and_then(|client| {
            client.status()?;
            Ok(client)
        }));
    });
    receiver.recv_timeout(limit).ok()
}

#[test]
fn clients_past_the_open_file_limit_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("vineyard.sock");
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "fd_limit::nofile_limited_child", "--nocapture"])
        .env(NOFILE_CHILD, &socket)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        child.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: LIMIT,
                rlim_max: LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut server = KilledOnDrop(child.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while IpcClient::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "the server never started");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut clients = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..120 {
        match connect_within(&socket, Duration::from_secs(10)) {
            Some(Ok(client)) => clients.push(client),
            Some(Err(error)) => refused.push(error),
            None => panic!(
                "a client hung after {} connected and {} were refused",
                clients.len(),
                refused.len()
            ),
        }
    }
    assert!(
        clients.len() >= 10 && (clients.len() as u64) < LIMIT,
        "{}",
        clients.len()
    );
    assert!(!refused.is_empty());
    for error in &refused {
        let message = error.to_string();
        assert!(
            error.code() == Code::ConnectionFailed || error.code() == Code::ConnectionError,
            "{error:?}"
        );
        if error.code() == Code::ConnectionFailed {
            assert!(
                message.contains("no file descriptors left") && message.contains("ulimit -n"),
                "{message}"
            );
        }
    }
    assert!(
        refused
            .iter()
            .any(|error| error.to_string().contains("no file descriptors left")),
        "no refused client was told why: {refused:?}"
    );

    // Clients leave; new ones get in again.
    clients.truncate(clients.len() / 2);
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..5 {
        let client = connect_within(&socket, Duration::from_secs(10))
            .expect("a client hung after others left")
            .expect("a client was refused after others left");
        clients.push(client);
    }
    drop(clients);

    // SAFETY: signals the child started above.
    unsafe { libc::kill(server.0.id() as i32, libc::SIGTERM) };
    let mut log = String::new();
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status:?}: {log}");
    let warnings = log
        .lines()
        .filter(|line| line.contains("accept") || line.contains("file descriptors"))
        .count();
    assert!(
        (1..=4).contains(&warnings),
        "{warnings} lines about accepting:\n{log}"
    );
}
