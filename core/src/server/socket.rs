//! Binding the UNIX socket: refuse a live server's path, replace a stale one, explain failures.

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use tokio::net::UnixListener;

use crate::error::{Error, Result};

/// Binds `path`, removing a stale socket file left by a server that died, and gives the
/// socket file the permission bits `mode` (connecting needs write permission).
pub fn bind(path: &Path, mode: u32) -> Result<UnixListener> {
    check_available(path)?;
    let listener = UnixListener::bind(path).map_err(|error| {
        Error::invalid(format!(
            "cannot listen on {}: {error}; choose another --socket (a writable path \
             shorter than 108 bytes)",
            path.display()
        ))
    })?;
    // bind() applies the umask; set the bits asked for before the first accept.
    if let Err(error) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        let _ = std::fs::remove_file(path);
        return Err(Error::invalid(format!(
            "cannot set the permissions of {} to {mode:o}: {error}",
            path.display()
        )));
    }
    Ok(listener)
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
