//! One client connection: read a frame, handle it, write the reply and its fds, repeat.

use std::collections::HashSet;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::UnixStream;

use super::frames::FrameReader;
use super::handler::{handle, Outcome, Session};
use super::progress::{settle, Progress};
use super::Shared;
use crate::error::{Error, Result};
use crate::protocol::{frame, Request};
use crate::sys;

/// Serves one connection until the client exits or the stream breaks.
pub async fn serve(shared: Arc<Shared>, mut stream: UnixStream) {
    let connection = shared.table().open_connection();
    let progress = shared.progress.open(connection, stream.as_raw_fd());
    let mut session = Session {
        connection,
        registered: false,
        sent_fds: HashSet::new(),
    };
    if let Err(error) = serve_requests(&shared, &mut session, &progress, &mut stream).await {
        tracing::debug!(connection, %error, "connection ended");
    }
    shared.progress.close(connection);
    shared.table().close_connection(connection);
    shared.changed.notify_waiters();
}

async fn serve_requests(
    shared: &Shared,
    session: &mut Session,
    progress: &Progress,
    stream: &mut UnixStream,
) -> Result<()> {
    let mut reader = FrameReader::new(
        shared.config.max_request_size,
        Arc::clone(&shared.request_memory),
    );
    loop {
        let body = match reader.next(stream, progress).await {
            Ok(Some(body)) => body,
            Ok(None) => return Ok(()),
            Err(error @ (Error::FrameTooLarge { .. } | Error::LimitExceeded { .. })) => {
                // The stream cannot be resynchronised: explain, then close.
                if let Outcome::Reply { frame, .. } = Outcome::error(&error) {
                    stream.write_all(&frame).await?;
                }
                return Err(error);
            }
            Err(Error::Io(error)) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(())
            }
            Err(error) => return Err(error),
        };
        let request = frame::decode_body(&body).and_then(|message| Request::parse(&message));
        let outcome = match request {
            Ok(request) => {
                settle(shared, session.connection, &request).await;
                // A parked request makes the connection idle only if nothing follows it.
                let parked_progress = (!reader.has_buffered()).then_some(progress);
                handle_waiting(shared, session, parked_progress, &request, stream).await
            }
            Err(error) => Outcome::error(&error),
        };
        drop(body);
        reader.handled();
        match outcome {
            Outcome::Reply { frame, fds } => {
                stream.write_all(&frame).await?;
                for fd in fds {
                    send_fd(stream, fd).await?;
                }
            }
            Outcome::Exit => return Ok(()),
            Outcome::NotYet => unreachable!("handle_waiting resolves NotYet"),
        }
    }
}

/// Handles a request, parking it (`wait: true`) until the table changes enough to answer.
/// A client that hangs up meanwhile ends the wait (and the connection, releasing its holds).
/// While parked, the connection counts as idle (through `progress`, given when no request
/// follows this one): its client waits for the reply and sends nothing.
async fn handle_waiting(
    shared: &Shared,
    session: &mut Session,
    progress: Option<&Progress>,
    request: &Request,
    stream: &UnixStream,
) -> Outcome {
    let mut counted = false;
    // Stops once the client sends bytes early: its readiness then stays set until they are read.
    let mut watch_hang_up = true;
    let outcome = loop {
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match handle(shared, session, request).await {
            Outcome::NotYet => {
                if !counted {
                    counted = true;
                    shared.deferred.fetch_add(1, Ordering::Relaxed);
                    if let Some(progress) = progress {
                        progress.set_idle();
                    }
                }
                tokio::select! {
                    _ = changed => {}
                    peeked = peer_sent_or_hung_up(stream), if watch_hang_up => match peeked {
                        Ok(0) | Err(_) => break Outcome::Exit,
                        Ok(_) => watch_hang_up = false,
                    },
                }
            }
            outcome => break outcome,
        }
    };
    if counted {
        shared.deferred.fetch_sub(1, Ordering::Relaxed);
        if let Some(progress) = progress {
            progress.set_busy();
        }
    }
    outcome
}

/// Waits until the client sends a byte (`Ok(1)`) or hangs up (`Ok(0)`), consuming nothing.
async fn peer_sent_or_hung_up(stream: &UnixStream) -> std::io::Result<usize> {
    let socket = stream.as_raw_fd();
    stream
        .async_io(Interest::READABLE, || sys::peek_byte(socket))
        .await
}

async fn send_fd(stream: &UnixStream, fd: i32) -> Result<()> {
    let socket = stream.as_raw_fd();
    stream
        .async_io(Interest::WRITABLE, || sys::send_fd(socket, fd))
        .await
        .map_err(Error::from)
}
