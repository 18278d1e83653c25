//! The server's reading side of a connection: whatever the client sent, taken in one read,
//! then cut into frames (a client that does not wait for replies sends many at once).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

use super::progress::Progress;
use crate::error::{Error, Result};
use crate::protocol::frame::{FrameBuffer, READ_SIZE};

/// Frames up to this size are read without asking [`RequestMemory`]: they are what clients
/// send all the time, and a connection reads at most one [`READ_SIZE`] at once anyway.
const SMALL_FRAME: usize = 4 * READ_SIZE;

/// The bytes of large requests all connections are reading at once, against
/// `--max_request_memory`: one client's large requests cannot stop others from sending
/// theirs, but many large requests at once cannot exhaust the server's memory.
#[derive(Debug)]
pub struct RequestMemory {
    used: AtomicU64,
    limit: u64,
}

impl RequestMemory {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<RequestMemory> {
        Arc::new(RequestMemory {
            used: AtomicU64::new(0),
            limit,
        })
    }

    fn reserve(&self, bytes: u64) -> Result<()> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            if used.saturating_add(bytes) > self.limit {
                return Err(Error::LimitExceeded {
                    what: format!(
                        "a request of {bytes} bytes, while the server is reading {used} bytes of \
                         other large requests, goes past the"
                    ),
                    limit: self.limit,
                    flag: "--max_request_memory",
                    total: true,
                });
            }
            match self.used.compare_exchange_weak(
                used,
                used + bytes,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => used = now,
            }
        }
    }

    fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// The bytes read from one client and not handled yet.
pub struct FrameReader {
    buffer: FrameBuffer,
    memory: Arc<RequestMemory>,
    /// Bytes of `memory` held for the large frame being read (or just handed out).
    reserved: u64,
}

impl Drop for FrameReader {
    fn drop(&mut self) {
        self.memory.release(self.reserved);
    }
}

impl FrameReader {
    /// A reader refusing frames over `max_frame` bytes, and large frames past `memory`.
    pub fn new(max_frame: u64, memory: Arc<RequestMemory>) -> FrameReader {
        FrameReader {
            buffer: FrameBuffer::with_limit(max_frame),
            memory,
            reserved: 0,
        }
    }

    /// Gives back the budget of the frame handed out last: the caller is done with it.
    pub fn handled(&mut self) {
        self.memory.release(std::mem::take(&mut self.reserved));
    }

    /// Holds budget for the frame whose header is here, if it is large and not held yet.
    fn reserve_for_next(&mut self) -> Result<()> {
        if let Some(length) = self.buffer.next_body_len() {
            let length = length?;
            if length > SMALL_FRAME && self.reserved == 0 {
                self.memory.reserve(length as u64)?;
                self.reserved = length as u64;
            }
        }
        Ok(())
    }

    /// The next frame's body; `None` at the end of the stream.
    ///
    /// The connection counts as busy from before bytes are taken from the socket until the
    /// reader is empty again and finds nothing more to read (see [`Progress`]): a request the
    /// caller takes stays "busy" until the next call.
    pub async fn next(
        &mut self,
        stream: &mut UnixStream,
        progress: &Progress,
    ) -> Result<Option<Vec<u8>>> {
        // The frame handed out last has been handled by now.
        self.handled();
        loop {
            if let Some(body) = self.buffer.take_frame()? {
                return Ok(Some(body.to_vec()));
            }
            self.reserve_for_next()?;
            if !self.has_buffered() {
                let bytes = self.buffer.room_for(READ_SIZE);
                progress.set_busy();
                match stream.try_read_buf(bytes) {
                    Ok(0) => return Ok(None),
                    Ok(_) => continue,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        progress.set_idle();
                        stream.readable().await?;
                        continue;
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            // Part of a frame is here: wait for the rest.
            if stream.read_buf(self.buffer.room_for(READ_SIZE)).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// True if bytes of a next request were read already.
    pub fn has_buffered(&self) -> bool {
        self.buffer.waiting() > 0
    }
}
