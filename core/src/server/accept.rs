//! Accepting clients, also when the process runs out of file descriptors.
//!
//! At the open-file limit `accept` fails with `EMFILE` (or `ENFILE`), whether or not a client
//! is waiting (Linux takes the fd before it looks at the backlog), and a pending client stays
//! in the backlog, so the listener stays ready and a plain accept loop spins at full speed,
//! logging each failure. Instead the acceptor waits for the listener to be readable (a client
//! is pending), backs off (10 ms doubling to 1 s), logs one warning (and a count every 10 s
//! while it lasts), and keeps a reserve fd: giving it up lets it accept the pending client
//! and tell it, in an error reply, why it is refused rather than leave it hanging. The reserve
//! is taken back before any other client is served, so the next one can be refused too.

use std::fs::File;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::{UnixListener, UnixStream};

use crate::error::Code;
use crate::protocol::{frame, ErrorReply};

/// First pause after running out of fds.
const MIN_BACKOFF: Duration = Duration::from_millis(10);

/// Longest pause between tries.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How often a lasting shortage is logged again.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// How long a refused client gets to read the reply before the fd is taken back.
const REFUSAL_GRACE: Duration = Duration::from_secs(1);

/// Accepts clients from a listener; see the module's documentation.
pub struct Acceptor {
    /// The listener, watched for pending clients (`accept` itself fails with `EMFILE` at
    /// the limit whether or not a client is waiting: readiness says whether one is).
    listener: AsyncFd<std::os::unix::net::UnixListener>,
    /// An fd held in reserve (`/dev/null`), given up to refuse one client politely.
    reserve: Option<File>,
    /// A second fd held back: should another thread take the one the reserve freed (a
    /// connection opening its hold ring at that instant), giving this up gets the reserve
    /// back, so the server still refuses clients instead of leaving them hanging.
    spare: Option<File>,
    backoff: Duration,
    /// When the last warning was logged.
    warned_at: Option<Instant>,
    /// Failures since then.
    failures: u64,
}

fn open_reserve() -> Option<File> {
    File::open("/dev/null").ok()
}

fn out_of_fds(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE)
    )
}

/// A stream accepted by the standard library, for tokio.
fn into_tokio(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
    stream.set_nonblocking(true)?;
    UnixStream::from_std(stream)
}

impl Acceptor {
    /// Accepts from `listener`, with a reserve fd set aside now.
    pub fn new(listener: UnixListener) -> io::Result<Acceptor> {
        let listener = listener.into_std()?;
        listener.set_nonblocking(true)?;
        // SAFETY: the listener owns its fd, which stays open and the same (AsRawFd returns
        // it unchanged) until the AsyncFd, which owns the listener, drops it.
        let listener = unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE) }
            .map_err(|error| error.into_parts().1)?;
        Ok(Acceptor {
            listener,
            reserve: open_reserve(),
            spare: open_reserve(),
            backoff: MIN_BACKOFF,
            warned_at: None,
            failures: 0,
        })
    }

    /// The next client. Failures are handled here (and logged, rate-limited); this only
    /// returns with a connection.
    pub async fn accept(&mut self) -> UnixStream {
        loop {
            if self.reserve.is_none() {
                self.reserve = open_reserve();
            }
            if self.spare.is_none() && self.reserve.is_some() {
                self.spare = open_reserve();
            }
            let Ok(mut ready) = self.listener.readable().await else {
                tokio::time::sleep(MAX_BACKOFF).await;
                continue;
            };
            let accepted = ready
                .get_inner()
                .accept()
                .and_then(|(stream, _)| into_tokio(stream));
            match accepted {
                Ok(stream) => {
                    self.backoff = MIN_BACKOFF;
                    if self.reserve.is_none() {
                        self.reserve = open_reserve();
                        if self.reserve.is_none() {
                            // This client took the fd the reserve needs: without a reserve
                            // the next one could only hang, so this one is refused instead.
                            tokio::spawn(refuse(stream));
                            continue;
                        }
                    }
                    return stream;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    ready.clear_ready();
                }
                Err(error) => {
                    drop(ready);
                    self.warn(&error);
                    // A refused client frees its fd as soon as it read why: try again soon.
                    // Otherwise nothing changes until a client leaves: wait longer each time.
                    let pause = if out_of_fds(&error) && self.refuse_one() {
                        MIN_BACKOFF
                    } else {
                        let pause = self.backoff;
                        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                        pause
                    };
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Gives up the reserve fd to accept the pending client and tell it why it is refused;
    /// false if there was no reserve, or no client after all.
    fn refuse_one(&mut self) -> bool {
        let Some(reserve) = self.reserve.take() else {
            return false;
        };
        drop(reserve);
        let accepted = self
            .listener
            .get_ref()
            .accept()
            .and_then(|(stream, _)| into_tokio(stream));
        match accepted {
            Ok(stream) => {
                tokio::spawn(refuse(stream));
                true
            }
            Err(_) => {
                // Nobody was waiting, or another thread took the freed fd (the accept failed
                // at the limit): keep a reserve for the next one, the spare's fd if need be.
                self.reserve = open_reserve();
                if self.reserve.is_none() && self.spare.take().is_some() {
                    self.reserve = open_reserve();
                }
                false
            }
        }
    }

    /// Logs a failure: the first at once, then at most one line every [`WARNING_INTERVAL`]
    /// with the number of failures since the last.
    fn warn(&mut self, error: &io::Error) {
        self.failures += 1;
        if self
            .warned_at
            .is_some_and(|at| at.elapsed() < WARNING_INTERVAL)
        {
            return;
        }
        let failures = std::mem::take(&mut self.failures);
        if out_of_fds(error) {
            tracing::warn!(
                %error,
                open_file_limit = open_file_limit(),
                failures,
                "cannot accept clients: no file descriptors left; refusing new clients until \
                 some disconnect (raise the limit with `ulimit -n`)"
            );
        } else {
            tracing::warn!(%error, failures, "cannot accept clients; retrying");
        }
        self.warned_at = Some(Instant::now());
    }
}

/// The soft open-file limit of this process (0 if it cannot be read).
fn open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one valid rlimit struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        0
    }
}

/// Tells a client the server has no fds left, waits briefly for it to read that (it hangs
/// up, or sends its first request), and closes.
async fn refuse(mut stream: UnixStream) {
    let reply = ErrorReply {
        code: Code::ConnectionFailed.as_i64(),
        message: format!(
            "the vineyard server has no file descriptors left (open-file limit {}), so it \
             refuses new clients until some disconnect; close idle clients or raise the \
             server's limit (ulimit -n)",
            open_file_limit()
        ),
        ..ErrorReply::default()
    };
    if stream.write_all(&frame::encode(&reply)).await.is_ok() {
        let _ = tokio::time::timeout(REFUSAL_GRACE, stream.ready(Interest::READABLE)).await;
    }
}
