//! Binding the UNIX socket: refuse a live server's path, replace a stale one, explain failures.

use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use tokio::net::UnixListener;

use crate::error::{Error, Result};

/// Binds `path`, removing a stale socket file left by a server that died.
pub fn bind(path: &Path) -> Result<UnixListener> {
    check_available(path)?;
    UnixListener::bind(path).map_err(|error| {
        Error::invalid(format!(
            "cannot listen on {}: {error}; choose another --socket (a writable path \
             shorter than 108 bytes)",
            path.display()
        ))
    })
}

/// Fails with a clear message unless `path` can be bound: its directory exists and nothing
/// else is there (a stale socket of a dead server is removed).
pub fn check_available(path: &Path) -> Result<()> {
    let shown = path.display();
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        if !parent.is_dir() {
            return Err(Error::invalid(format!(
                "cannot listen on {shown}: directory {} does not exist; create it or choose \
                 another --socket",
                parent.display()
            )));
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_socket() => {
            match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => {
                    return Err(Error::invalid(format!(
                        "cannot listen on {shown}: another vineyard server is running there; \
                         stop it or choose another --socket"
                    )))
                }
                Err(error) if error.kind() == ErrorKind::ConnectionRefused => {
                    tracing::info!(socket = %shown, "removing stale socket file");
                    std::fs::remove_file(path)?;
                }
                Err(error) => {
                    return Err(Error::invalid(format!(
                        "cannot listen on {shown}: the socket exists and cannot be probed \
                         ({error}); remove it or choose another --socket"
                    )))
                }
            }
        }
        Ok(_) => {
            return Err(Error::invalid(format!(
                "cannot listen on {shown}: the path exists and is not a socket; remove it or \
                 choose another --socket"
            )))
        }
        Err(_) => {}
    }
    if path.as_os_str().len() >= 108 {
        return Err(Error::invalid(format!(
            "cannot listen on {shown}: the path is longer than the 107 bytes a UNIX socket \
             allows; choose a shorter --socket"
        )));
    }
    Ok(())
}
