//! The client's reading side of the socket: whatever has arrived, taken in one `recvmsg`.
//!
//! Replies of requests sent without waiting pile up; one read takes them all instead of two
//! reads per reply. Fds travel with one byte each (see [`crate::sys::send_fd`]) and arrive in
//! the same read as their byte ([`crate::sys::receive_with_fd`]); they are queued in stream
//! order until the reply that announces them takes them.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{OwnedFd, RawFd};

use serde_json::{Map, Value};

use crate::error::Result;
use crate::protocol::frame::{self, FrameBuffer, READ_SIZE};
use crate::sys;

/// Bytes read but not taken yet, and the fds that came with them.
#[derive(Default)]
pub struct Inbox {
    buffer: FrameBuffer,
    fds: VecDeque<OwnedFd>,
}

impl Inbox {
    /// True if a whole frame is waiting, so reading it will not block.
    pub fn has_frame(&self) -> bool {
        self.buffer.missing() == 0
    }

    /// Reads the next frame from `socket` (blocking).
    pub fn read_frame(&mut self, socket: RawFd) -> Result<Map<String, Value>> {
        loop {
            if let Some(body) = self.buffer.take_frame()? {
                return frame::decode_body(body);
            }
            let missing = self.buffer.missing();
            self.fill(socket, missing)?;
        }
    }

    /// Takes the next fd sent with [`crate::sys::send_fd`] (blocking).
    pub fn read_fd(&mut self, socket: RawFd) -> Result<OwnedFd> {
        if self.buffer.waiting() == 0 {
            self.fill(socket, 1)?;
        }
        self.buffer.skip(1);
        self.fds.pop_front().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "expected a file descriptor from the server, got a plain byte",
            )
            .into()
        })
    }

    /// One read of at least `wanted` bytes' room (blocks until something arrives).
    fn fill(&mut self, socket: RawFd, wanted: usize) -> io::Result<()> {
        let room = READ_SIZE.max(wanted);
        let bytes = self.buffer.room_for(room);
        let filled = bytes.len();
        let spare = &mut bytes.spare_capacity_mut()[..room];
        let (read, fd) = sys::receive_with_fd(socket, spare)?;
        // SAFETY: `receive_with_fd` initialised the first `read` bytes of the spare capacity.
        unsafe { bytes.set_len(filled + read) };
        self.fds.extend(fd);
        Ok(())
    }
}
