//! The server's reading side of a connection: whatever the client sent, taken in one read,
//! then cut into frames (a client that does not wait for replies sends many at once).

use std::io;

use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

use super::progress::Progress;
use crate::error::Result;
use crate::protocol::frame::{FrameBuffer, READ_SIZE};

/// The bytes read from one client and not handled yet.
#[derive(Default)]
pub struct FrameReader {
    buffer: FrameBuffer,
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
            if let Some(body) = self.buffer.take_frame()? {
                return Ok(Some(body.to_vec()));
            }
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
