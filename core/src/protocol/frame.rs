//! Framing: an 8-byte little-endian length, then that many bytes of UTF-8 JSON.

use std::io::{Read, Write};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The largest frame a peer accepts (Vineyard's server limit: 256 MiB).
pub const MAX_FRAME: u64 = 256 << 20;

/// Length of the frame header.
pub const HEADER_LEN: usize = 8;

/// Encodes a JSON value as one frame (header and body in one buffer, for one write).
pub fn encode(message: &Value) -> Vec<u8> {
    let mut frame = vec![0u8; HEADER_LEN];
    serde_json::to_writer(&mut frame, message).expect("JSON values always serialise");
    let body_len = (frame.len() - HEADER_LEN) as u64;
    frame[..HEADER_LEN].copy_from_slice(&body_len.to_le_bytes());
    frame
}

/// Reads the body length from a header, refusing frames over [`MAX_FRAME`].
pub fn body_len(header: [u8; HEADER_LEN]) -> Result<usize> {
    let size = u64::from_le_bytes(header);
    if size > MAX_FRAME {
        return Err(Error::FrameTooLarge {
            size,
            limit: MAX_FRAME,
        });
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
