//! Accepting clients, also when the process runs out of file descriptors.
//!
//! At the open-file limit `accept` fails with `EMFILE` (or `ENFILE`) and the pending client
//! stays in the backlog, so the listener stays ready and a plain accept loop spins at full
//! speed, logging each failure. Instead the acceptor backs off (10 ms doubling to 1 s), logs
//! one warning (and a count every 10 s while it lasts), and keeps a reserve fd: giving it up
//! lets it accept one pending client and tell it, in an error reply, why it is refused
//! rather than leave it hanging.

use std::fs::File;
use std::io;
use std::time::{Duration, Instant};

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
    listener: UnixListener,
    /// An fd held in reserve (`/dev/null`), given up to refuse one client politely.
    reserve: Option<File>,
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

impl Acceptor {
    /// Accepts from `listener`, with a reserve fd set aside now.
    pub fn new(listener: UnixListener) -> Acceptor {
        Acceptor {
            listener,
            reserve: open_reserve(),
            backoff: MIN_BACKOFF,
            warned_at: None,
            failures: 0,
        }
    }

    /// The next client. Failures are handled here (and logged, rate-limited); this only
    /// returns with a connection.
    pub async fn accept(&mut self) -> UnixStream {
        loop {
            if self.reserve.is_none() {
                self.reserve = open_reserve();
            }
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    self.backoff = MIN_BACKOFF;
                    return stream;
                }
                Err(error) => {
                    self.warn(&error);
                    // A refused client frees its fd as soon as it read why: try again soon.
                    // Otherwise nothing changes until a client leaves: wait longer each time.
                    let pause = if out_of_fds(&error) && self.refuse_one().await {
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

    /// Gives up the reserve fd to accept one pending client and tell it why it is refused;
    /// false if there was no reserve (or no client after all).
    async fn refuse_one(&mut self) -> bool {
        let Some(reserve) = self.reserve.take() else {
            return false;
        };
        drop(reserve);
        match tokio::time::timeout(MIN_BACKOFF, self.listener.accept()).await {
            Ok(Ok((stream, _))) => {
                tokio::spawn(refuse(stream));
                true
            }
            _ => false,
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
