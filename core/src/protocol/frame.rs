//! Framing: an 8-byte little-endian length, then that many bytes of UTF-8 JSON.

use std::io::{Read, Write};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The largest frame a peer accepts (Vineyard's server limit: 256 MiB).
pub const MAX_FRAME: u64 = 256 << 20;

/// Length of the frame header.
pub const HEADER_LEN: usize = 8;

/// Encodes a message (a JSON value or a typed reply) as one frame: header and body in one
/// buffer, for one write.
pub fn encode(message: &impl Serialize) -> Vec<u8> {
    let mut frame = vec![0u8; HEADER_LEN];
    serde_json::to_writer(&mut frame, message).expect("messages always serialise");
    let body_len = (frame.len() - HEADER_LEN) as u64;
    frame[..HEADER_LEN].copy_from_slice(&body_len.to_le_bytes());
    frame
}

/// Reads the body length from a header, refusing frames over [`MAX_FRAME`].
pub fn body_len(header: [u8; HEADER_LEN]) -> Result<usize> {
    body_len_within(header, MAX_FRAME)
}

/// Reads the body length from a header, refusing frames over `limit` bytes.
pub fn body_len_within(header: [u8; HEADER_LEN], limit: u64) -> Result<usize> {
    let size = u64::from_le_bytes(header);
    if size > limit {
        return Err(Error::FrameTooLarge { size, limit });
    }
    Ok(size as usize)
}

/// Parses a frame body into a JSON object.
pub fn decode_body(body: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::Protocol {
            message: format!("a message must be a JSON object, got {}", kind_of(&other)),
        }),
        Err(error) => Err(Error::Protocol {
            message: format!("message is not valid JSON: {error}"),
        }),
    }
}

/// Writes one frame to a blocking stream.
pub fn write_blocking(stream: &mut impl Write, message: &Value) -> Result<()> {
    stream.write_all(&encode(message))?;
    Ok(())
}

/// Reads one frame from a blocking stream, with exact reads (no read-ahead: fds may follow).
pub fn read_blocking(stream: &mut impl Read) -> Result<Map<String, Value>> {
    let mut header = [0u8; HEADER_LEN];
    stream.read_exact(&mut header)?;
    let mut body = vec![0u8; body_len(header)?];
    stream.read_exact(&mut body)?;
    decode_body(&body)
}

/// Bytes asked for per read into a [`FrameBuffer`] (more when a frame needs more).
pub const READ_SIZE: usize = 64 << 10;

/// Bytes read from a stream and not taken yet, cut into frames as they complete. It grows
/// with the bytes that arrive, not with the length a header announces; one read can bring
/// many frames (replies or requests nobody waited for).
pub struct FrameBuffer {
    bytes: Vec<u8>,
    /// Start of the bytes not taken yet.
    start: usize,
    /// The largest frame body accepted.
    limit: u64,
}

impl Default for FrameBuffer {
    fn default() -> FrameBuffer {
        FrameBuffer::with_limit(MAX_FRAME)
    }
}

impl FrameBuffer {
    /// A buffer that refuses frames over `limit` bytes.
    pub fn with_limit(limit: u64) -> FrameBuffer {
        FrameBuffer {
            bytes: Vec::new(),
            start: 0,
            limit,
        }
    }

    /// Bytes read and not taken yet.
    pub fn waiting(&self) -> usize {
        self.bytes.len() - self.start
    }

    /// The body of the next frame, taken off the front once all of it is here; fails for a
    /// header announcing more than the buffer's limit ([`MAX_FRAME`] by default).
    pub fn take_frame(&mut self) -> Result<Option<&[u8]>> {
        let Some(length) = self.next_body_len() else {
            return Ok(None);
        };
        let length = length?;
        if self.waiting() - HEADER_LEN < length {
            return Ok(None);
        }
        let body_start = self.start + HEADER_LEN;
        self.start = body_start + length;
        Ok(Some(&self.bytes[body_start..self.start]))
    }

    /// Bytes still to read before the next frame is whole (0 when it is). Call it after
    /// [`FrameBuffer::take_frame`], which refuses oversized headers.
    pub fn missing(&self) -> usize {
        match self.next_body_len() {
            None => HEADER_LEN - self.waiting(),
            Some(length) => (HEADER_LEN + length.unwrap_or(0)).saturating_sub(self.waiting()),
        }
    }

    /// Takes `count` bytes off the front (the byte an fd travels with).
    pub fn skip(&mut self, count: usize) {
        assert!(count <= self.waiting(), "skipping bytes not read yet");
        self.start += count;
    }

    /// Drops the bytes taken and makes room for `room` more: returns the buffer to append
    /// them to.
    pub fn room_for(&mut self, room: usize) -> &mut Vec<u8> {
        if self.start == self.bytes.len() {
            if self.bytes.capacity() > 4 * READ_SIZE {
                // A large frame is gone: do not keep its memory.
                self.bytes = Vec::new();
            }
            self.bytes.clear();
        } else {
            self.bytes.drain(..self.start);
        }
        self.start = 0;
        self.bytes.reserve(room);
        &mut self.bytes
    }

    /// The body length the next header announces, once the whole header is here.
    pub fn next_body_len(&self) -> Option<Result<usize>> {
        let header = self.bytes.get(self.start..self.start + HEADER_LEN)?;
        Some(body_len_within(
            header.try_into().expect("header length"),
            self.limit,
        ))
    }
}

/// A short name for a JSON value's kind, for error messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn header_is_little_endian_length() {
        let frame = encode(&json!({"type": "exit_request"}));
        assert_eq!(&frame[..8], &23u64.to_le_bytes());
        assert_eq!(&frame[8..], br#"{"type":"exit_request"}"#);
    }

    #[test]
    fn round_trips_and_rejects() {
        let message = json!({"id": [16753631171920789507u64], "type": "get_data_request"});
        let frame = encode(&message);
        let decoded = read_blocking(&mut &frame[..]).unwrap();
        assert_eq!(Value::Object(decoded), message);
        assert!(matches!(
            body_len((MAX_FRAME + 1).to_le_bytes()),
            Err(Error::FrameTooLarge { .. })
        ));
        assert!(decode_body(b"[1,2]")
            .unwrap_err()
            .to_string()
            .contains("an array"));
        assert!(decode_body(b"{nope")
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
    }

    #[test]
    fn frame_buffer_cuts_frames_that_arrive_in_pieces() {
        let mut stream = encode(&json!({"n": 1}));
        stream.extend(encode(&json!({"n": 22})));
        let mut buffer = FrameBuffer::default();
        let mut bodies = Vec::new();
        for piece in stream.chunks(5) {
            assert!(buffer.missing() > 0);
            buffer.room_for(piece.len()).extend_from_slice(piece);
            while let Some(body) = buffer.take_frame().unwrap() {
                bodies.push(decode_body(body).unwrap());
            }
        }
        assert_eq!(
            bodies,
            [json!({"n": 1}), json!({"n": 22})].map(|v| v.as_object().unwrap().clone())
        );
        assert_eq!((buffer.waiting(), buffer.missing()), (0, HEADER_LEN));

        buffer
            .room_for(8)
            .extend_from_slice(&(MAX_FRAME + 1).to_le_bytes());
        assert!(matches!(
            buffer.take_frame(),
            Err(Error::FrameTooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_error(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read_blocking(&mut &bytes[..]);
        }

        #[test]
        fn any_body_decodes_or_errors(body in ".{0,256}") {
            let _ = decode_body(body.as_bytes());
        }
    }
}
