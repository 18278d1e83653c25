//! Starting and stopping: clear errors for unusable sockets, stale sockets replaced, clean
//! shutdown with clients still connected.

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use vineyard_core::ServerConfig;

use crate::fixture::{accepts, bind_error, TestServer, TEST_SIZE};

fn config(socket: impl Into<std::path::PathBuf>) -> ServerConfig {
    let mut config = ServerConfig::local(socket, TEST_SIZE);
    config.reserve_memory = false;
    config
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
    let server = TestServer::start_with(|config| {
        // A socket file nobody listens on, as a killed server leaves behind.
        drop(UnixListener::bind(&config.socket).unwrap());
        assert!(config.socket.exists());
        assert!(!accepts(&config.socket));
    });
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
