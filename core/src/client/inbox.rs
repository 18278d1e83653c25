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
use crate::protocol::frame;
use crate::sys;

/// Bytes asked for per read (more when a frame is larger).
const READ_SIZE: usize = 64 << 10;

/// Bytes read but not taken yet, and the fds that came with them.
#[derive(Default)]
pub struct Inbox {
    bytes: Vec<u8>,
    /// Start of the bytes not taken yet.
    start: usize,
    fds: VecDeque<OwnedFd>,
}

impl Inbox {
    /// True if a whole frame is waiting, so reading it will not block.
    pub fn has_frame(&self) -> bool {
        let waiting = &self.bytes[self.start..];
        waiting.len() >= frame::HEADER_LEN && {
            let header: [u8; frame::HEADER_LEN] = waiting[..frame::HEADER_LEN]
                .try_into()
                .expect("header length");
            let body = u64::from_le_bytes(header);
            (waiting.len() - frame::HEADER_LEN) as u64 >= body
        }
    }

    /// Reads the next frame from `socket` (blocking).
    pub fn read_frame(&mut self, socket: RawFd) -> Result<Map<String, Value>> {
        self.fill_to(socket, frame::HEADER_LEN)?;
        let header: [u8; frame::HEADER_LEN] = self.bytes
            [self.start..self.start + frame::HEADER_LEN]
            .try_into()
            .expect("header length");
        let length = frame::body_len(header)?;
        self.fill_to(socket, frame::HEADER_LEN + length)?;
        let body_start = self.start + frame::HEADER_LEN;
        let message = frame::decode_body(&self.bytes[body_start..body_start + length]);
        self.start = body_start + length;
        message
    }

    /// Takes the next fd sent with [`crate::sys::send_fd`] (blocking).
    pub fn read_fd(&mut self, socket: RawFd) -> Result<OwnedFd> {
        self.fill_to(socket, 1)?;
        self.start += 1;
        self.fds.pop_front().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "expected a file descriptor from the server, got a plain byte",
            )
            .into()
        })
    }

    /// Reads until at least `wanted` bytes are waiting.
    fn fill_to(&mut self, socket: RawFd, wanted: usize) -> io::Result<()> {
        while self.bytes.len() - self.start < wanted {
            if self.start == self.bytes.len() {
                if self.bytes.capacity() > 4 * READ_SIZE {
                    // A large frame is gone: do not keep its memory.
                    self.bytes = Vec::new();
                }
                self.bytes.clear();
                self.start = 0;
            } else if self.start > 0 {
                self.bytes.drain(..self.start);
                self.start = 0;
            }
            let room = READ_SIZE.max(wanted - self.bytes.len());
            self.bytes.reserve(room);
            let filled = self.bytes.len();
            let spare = &mut self.bytes.spare_capacity_mut()[..room];
            let (read, fd) = sys::receive_with_fd(socket, spare)?;
            // SAFETY: `receive` initialised the first `read` bytes of the spare capacity.
            unsafe { self.bytes.set_len(filled + read) };
            self.fds.extend(fd);
        }
        Ok(())
    }
}
