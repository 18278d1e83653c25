//! The server's reading side of a connection: whatever the client sent, taken in one read,
//! then cut into frames (a client that does not wait for replies sends many at once).

use std::io;

use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

use super::progress::Progress;
use crate::error::Result;
use crate::protocol::frame;

/// Bytes asked for per read.
const READ_SIZE: usize = 64 << 10;

/// Bytes read from one client and not handled yet.
#[derive(Default)]
pub struct FrameReader {
    bytes: Vec<u8>,
    /// Start of the bytes not taken yet.
    start: usize,
}

impl FrameReader {
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
        loop {
            if let Some(body) = self.take_frame()? {
                return Ok(Some(body));
            }
            if self.waiting() == 0 {
                self.compact();
                progress.set_busy();
                match self.try_read(stream) {
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
            self.compact();
            self.bytes.reserve(READ_SIZE);
            if stream.read_buf(&mut self.bytes).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// True if bytes of a next request were read already.
    pub fn has_buffered(&self) -> bool {
        self.waiting() > 0
    }

    fn waiting(&self) -> usize {
        self.bytes.len() - self.start
    }

    /// Cuts a whole frame off the front, if one is here. Grows with the bytes that arrive,
    /// not with the length a header announces.
    fn take_frame(&mut self) -> Result<Option<Vec<u8>>> {
        if self.waiting() < frame::HEADER_LEN {
            return Ok(None);
        }
        let header: [u8; frame::HEADER_LEN] = self.bytes
            [self.start..self.start + frame::HEADER_LEN]
            .try_into()
            .expect("header length");
        let length = frame::body_len(header)?;
        if self.waiting() - frame::HEADER_LEN < length {
            return Ok(None);
        }
        let body_start = self.start + frame::HEADER_LEN;
        let body = self.bytes[body_start..body_start + length].to_vec();
        self.start = body_start + length;
        Ok(Some(body))
    }

    fn try_read(&mut self, stream: &UnixStream) -> io::Result<usize> {
        self.bytes.reserve(READ_SIZE);
        stream.try_read_buf(&mut self.bytes)
    }

    /// Drops the bytes already taken.
    fn compact(&mut self) {
        if self.start == self.bytes.len() {
            if self.bytes.capacity() > 4 * READ_SIZE {
                self.bytes = Vec::new();
            }
            self.bytes.clear();
        } else {
            self.bytes.drain(..self.start);
        }
        self.start = 0;
    }
}
