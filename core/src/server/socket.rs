//! Binding the UNIX socket: refuse a live server's path, replace a stale one, explain failures.

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use crate::error::{Error, Result};

/// Binds `path`, removing a stale socket file left by a server that died, with the permission
/// bits `mode` (connecting needs write permission) from the first instant the path exists:
/// the socket is made in a private directory beside it (mode 0700, so the umask cannot widen
/// anything anyone can reach), given its mode there, and only then renamed into place.
pub fn bind(path: &Path, mode: u32) -> Result<UnixListener> {
    check_available(path)?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let staging = staging_directory(parent).map_err(|error| {
        Error::invalid(format!(
            "cannot listen on {}: cannot create a private directory in {} to make the socket \
             in ({error}); choose a --socket in a writable directory",
            path.display(),
            parent.display()
        ))
    })?;
    let bound = bind_in(&staging, path, mode);
    let _ = std::fs::remove_dir(&staging);
    bound
}

/// A new directory in `parent` that only this user can enter.
fn staging_directory(parent: &Path) -> std::io::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let staging = parent.join(format!(".vineyard-bind-{}-{nanos:09}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
    Ok(staging)
}

/// Binds a socket in `staging`, gives it `mode` and renames it to `path`.
fn bind_in(staging: &Path, path: &Path, mode: u32) -> Result<UnixListener> {
    let failed = |what: &str, error: std::io::Error| {
        Error::invalid(format!(
            "cannot listen on {}: {what} failed: {error}; choose another --socket (a writable \
             path shorter than 108 bytes)",
            path.display()
        ))
    };
    let directory = std::fs::File::open(staging).map_err(|error| failed("open", error))?;
    // Through the directory's fd: the address stays short however long the path is.
    let address = format!("/proc/self/fd/{}/socket", directory.as_raw_fd());
    let listener =
        std::os::unix::net::UnixListener::bind(address).map_err(|error| failed("bind", error))?;
    let staged = staging.join("socket");
    let placed = std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))
        .map_err(|error| failed(&format!("setting mode {mode:o}"), error))
        .and_then(|()| std::fs::rename(&staged, path).map_err(|error| failed("rename", error)));
    if let Err(error) = placed {
        let _ = std::fs::remove_file(&staged);
        return Err(error);
    }
    listener
        .set_nonblocking(true)
        .and_then(|()| UnixListener::from_std(listener))
        .map_err(|error| {
            let _ = std::fs::remove_file(path);
            failed("listen", error)
        })
}

/// Parses the octal permission bits of `--socket_mode` (`600`, `0660`, `0o666`).
pub fn parse_mode(text: &str) -> std::result::Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(format!(
            "`{text}` is not an octal permission mode such as 600, 660 or 666"
        )),
    }
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
