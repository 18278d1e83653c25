//! Starting and stopping: clear errors for unusable sockets, stale sockets replaced, clean
//! shutdown with clients still connected.

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use vineyard_core::{Error, Server, ServerConfig};
use vineyard_test_harness::{TestServer, TEST_SIZE};

fn config(socket: impl Into<std::path::PathBuf>) -> ServerConfig {
    let mut config = ServerConfig::local(socket, TEST_SIZE);
    config.reserve_memory = false;
    config
}

/// The error `Server::bind` gives for `config` (panics if binding succeeds).
fn bind_error(config: ServerConfig) -> Error {
    // tokio's listener needs a reactor.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(Server::bind(config)) {
        Ok(_) => panic!("bind succeeded where it should have failed"),
        Err(error) => error,
    }
}

/// True if something accepts connections on `socket`.
fn accepts(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok()
}

#[test]
fn socket_of_a_running_server_is_refused() {
    let server = TestServer::start();
    let message = bind_error(config(server.socket())).to_string();
    assert!(message.contains("another vineyard server"), "{message}");
    assert!(
        message.contains(&server.socket().display().to_string()),
        "{message}"
    );
    // The running server was not disturbed.
    assert!(server.client().status().is_ok());
}

#[test]
fn stale_socket_file_is_replaced() {
    let server = TestServer::builder()
        .config(|config| {
            // A socket file nobody listens on, as a killed server leaves behind.
            drop(UnixListener::bind(&config.socket).unwrap());
            assert!(config.socket.exists());
            assert!(!accepts(&config.socket));
        })
        .start();
    let client = server.client();
    let id = client.put_bytes(b"after a stale socket").unwrap();
    assert_eq!(
        &server.client().get_blob(id).unwrap()[..],
        b"after a stale socket"
    );
}

#[test]
fn unusable_paths_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let message = bind_error(config(dir.path().join("missing").join("vineyard.sock"))).to_string();
    assert!(message.contains("does not exist"), "{message}");

    let file = dir.path().join("regular-file");
    std::fs::write(&file, b"not a socket").unwrap();
    let message = bind_error(config(&file)).to_string();
    assert!(message.contains("not a socket"), "{message}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"not a socket",
        "left untouched"
    );

    let long = dir.path().join("x".repeat(120));
    let message = bind_error(config(long)).to_string();
    assert!(message.contains("cannot listen"), "{message}");

    let mut empty = config(dir.path().join("empty.sock"));
    empty.size = 0;
    assert!(bind_error(empty).to_string().contains("--size"));
}

#[test]
fn shutdown_with_connected_and_waiting_clients() {
    let server = TestServer::start();
    let idle = server.client();
    let waiting = server.client();
    let waiter = std::thread::spawn(move || waiting.get_name("never", true));
    let deadline = Instant::now() + Duration::from_secs(5);
    while idle.status().unwrap().deferred_requests != 1 {
        assert!(
            Instant::now() < deadline,
            "the waiting request never parked"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let socket = server.socket().to_path_buf();
    server.stop();
    assert!(!socket.exists());
    let error = waiter.join().unwrap().unwrap_err();
    assert!(error.to_string().contains("connection"), "{error}");
    assert!(idle.status().is_err());
}

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn socket_is_owner_only_by_default_and_configurable() {
    let server = TestServer::start();
    assert_eq!(mode_of(server.socket()), vineyard_core::DEFAULT_SOCKET_MODE);
    assert_eq!(vineyard_core::DEFAULT_SOCKET_MODE, 0o600);
    assert!(server.client().status().is_ok(), "the owner still connects");

    let open = TestServer::builder()
        .config(|config| config.socket_mode = 0o666)
        .start();
    assert_eq!(mode_of(open.socket()), 0o666, "wider than the umask allows");
    assert!(open.client().status().is_ok());

    // A mode that is not octal permission bits is a usage error (exit code 2), not a start.
    for bad in ["9", "1777", "rw-------", ""] {
        let code = vineyard_core::server::cli::run(["vineyardd", "--socket-mode", bad]);
        assert_eq!(code, 2, "--socket-mode {bad:?}");
    }
}

/// Set in the child that `size_over_the_file_size_limit_is_a_clear_error` starts.
const FSIZE_CHILD: &str = "VINEYARD_TEST_FSIZE_CHILD";

/// The child half of the test below: runs the command line under a 1 MiB `ulimit -f`.
#[test]
fn fsize_limited_child() {
    let Some(socket) = std::env::var_os(FSIZE_CHILD) else {
        return;
    };
    let code = vineyard_core::server::cli::run([
        "vineyardd".into(),
        "--socket".into(),
        socket,
        "--size".into(),
        "64Mi".into(),
        "--meta".into(),
        "local".into(),
    ]);
    std::process::exit(code);
}

#[test]
fn size_over_the_file_size_limit_is_a_clear_error() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "server::fsize_limited_child", "--nocapture"])
        .env(FSIZE_CHILD, dir.path().join("vineyard.sock"));
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        child.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 20,
                rlim_max: 1 << 20,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = child.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.signal(),
        None,
        "killed by a signal (SIGXFSZ is 25): {stderr}"
    );
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("shared memory"), "{stderr}");
    assert!(stderr.contains("--size"), "{stderr}");
}

/// Set in the child that `the_socket_never_exists_with_a_wider_mode` starts.
const UMASK_CHILD: &str = "VINEYARD_TEST_UMASK_CHILD";

/// Events inotify reported for `name` in the watched directory, in order.
fn inotify_events(inotify: i32, name: &str) -> Vec<u32> {
    let mut buffer = vec![0u8; 64 << 10];
    // SAFETY: the buffer is valid for its length; the fd is non-blocking.
    let read = unsafe { libc::read(inotify, buffer.as_mut_ptr().cast(), buffer.len()) };
    let mut events = Vec::new();
    let mut at = 0;
    while read > 0 && at + 16 <= read as usize {
        let field = |offset: usize| {
            u32::from_ne_bytes(buffer[at + offset..at + offset + 4].try_into().unwrap())
        };
        let (mask, length) = (field(4), field(12) as usize);
        let raw = &buffer[at + 16..at + 16 + length];
        let event_name = raw.split(|&byte| byte == 0).next().unwrap_or_default();
        if event_name == name.as_bytes() {
            events.push(mask);
        }
        at += 16 + length;
    }
    events
}

/// The child half of the test below: binds servers again and again under umask 000, each
/// in a directory watched with inotify while a thread stats the socket path as fast as it can.
#[test]
fn umask_zero_child() {
    if std::env::var_os(UMASK_CHILD).is_none() {
        return;
    }
    // SAFETY: umask only changes this (child) process's file-creation mask.
    unsafe { libc::umask(0) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("vineyard.sock");
        let watched = std::ffi::CString::new(dir.path().to_str().unwrap()).unwrap();
        // SAFETY: plain inotify calls on a path that lives through the loop.
        let inotify = unsafe { libc::inotify_init1(libc::IN_NONBLOCK) };
        assert!(inotify >= 0);
        let mask = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_ATTRIB;
        // SAFETY: as above.
        assert!(unsafe { libc::inotify_add_watch(inotify, watched.as_ptr(), mask) } >= 0);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let (socket, stop) = (socket.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut widest = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(metadata) = std::fs::symlink_metadata(&socket) {
                        use std::os::unix::fs::PermissionsExt;
                        widest |= metadata.permissions().mode() & 0o777;
                    }
                }
                widest
            })
        };
        let server = runtime.block_on(Server::bind(config(&socket))).unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let widest = watcher.join().unwrap();
        let events = inotify_events(inotify, "vineyard.sock");
        // SAFETY: closes the fd opened above.
        unsafe { libc::close(inotify) };
        assert_eq!(
            widest & !0o600,
            0,
            "the socket was seen with mode {widest:o}"
        );
        assert_eq!(mode_of(&socket), 0o600);
        assert!(
            events.first() == Some(&libc::IN_MOVED_TO)
                && !events.iter().any(|&event| event & libc::IN_CREATE != 0),
            "the socket appeared before it had its mode (events {events:x?})"
        );
        drop(server);
    }
}

#[test]
fn the_socket_never_exists_with_a_wider_mode() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "server::umask_zero_child", "--nocapture"])
        .env(UMASK_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
