//! The harness's own promises: what the builder sets reaches the server, `stop` checks what
//! it says it checks, `crash` skips the clean shutdown, and it runs from a test on a runtime.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use vineyard_core::server::{RpcOptions, RpcService};
use vineyard_core::{Error, Result};
use vineyard_test_harness::{TestServer, TEST_SIZE};

/// An RPC service that binds nothing and ends its `serve` with `ending` once shut down.
struct FakeRpc {
    ending: Result<()>,
}

impl RpcService for FakeRpc {
    fn bind(&mut self, options: &RpcOptions) -> Result<String> {
        Ok(format!("{}:4242", options.host))
    }

    fn open_connections(&self) -> Arc<AtomicUsize> {
        Arc::new(AtomicUsize::new(3))
    }

    fn serve(
        self: Box<Self>,
        _socket: PathBuf,
        shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(async move {
            shutdown.await;
            self.ending
        })
    }
}

#[test]
fn defaults_then_stop_removes_the_socket() {
    let server = TestServer::start();
    let status = server.client().status().unwrap();
    assert_eq!(status.memory_limit, TEST_SIZE);
    assert_eq!(server.rpc_endpoint(), None);
    assert_eq!(server.client().rpc_endpoint(), "0.0.0.0:0");
    let socket = server.socket().to_path_buf();
    assert!(socket.exists());
    server.stop();
    assert!(!socket.exists());
}

#[test]
fn size_and_config_reach_the_server() {
    let server = TestServer::builder()
        .size(8 << 20)
        .config(|config| config.socket_mode = 0o640)
        .config(|config| config.socket_mode |= 0o004)
        .start();
    assert_eq!(server.client().status().unwrap().memory_limit, 8 << 20);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(server.socket()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o644, "the config changes ran in order");
}

#[test]
fn memory_usage_follows_puts_and_deletes() {
    let server = TestServer::start();
    let client = server.client();
    let id = client.put_bytes(&[7; 4096]).unwrap();
    assert!(server.memory_usage() >= 4096);
    client.delete(&[id], false, false).unwrap();
    server.wait_for_memory_usage(0);
}

#[test]
fn the_rpc_service_is_bound_announced_and_counted() {
    let server = TestServer::builder()
        .rpc(Box::new(FakeRpc { ending: Ok(()) }))
        .rpc_token("s3cret")
        .start();
    assert_eq!(server.rpc_endpoint(), Some("127.0.0.1:4242"));
    assert_eq!(server.rpc_token(), Some("s3cret"));
    let client = server.client();
    assert_eq!(client.rpc_endpoint(), "127.0.0.1:4242");
    assert_eq!(client.status().unwrap().rpc_connections, 3);
    server.stop();
}

#[test]
#[should_panic(expected = "the RPC service failed: ")]
fn stop_fails_when_the_rpc_service_failed() {
    let ending = Err(Error::invalid("the fake service breaks"));
    TestServer::builder()
        .rpc(Box::new(FakeRpc { ending }))
        .start()
        .stop();
}

#[test]
#[should_panic(expected = "the test server did not start")]
fn a_server_that_cannot_start_says_why() {
    TestServer::builder().size(0).start();
}

#[test]
fn crash_skips_the_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("crashing.sock");
    let path = socket.clone();
    let server = TestServer::builder()
        .config(move |config| config.socket = path)
        .start();
    assert_eq!(server.socket(), socket);
    let client = server.client();
    server.crash();
    assert!(socket.exists(), "a killed server leaves its socket behind");
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_err());
    assert!(client.status().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_and_stops_from_a_test_on_a_runtime() {
    let server = TestServer::start();
    assert!(server.client().status().is_ok());
    server.stop();
}
