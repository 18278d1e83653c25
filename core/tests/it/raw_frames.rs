//! `RawConnection`: hand-written frames (8-byte little-endian length + body) over a plain
//! `UnixStream`, to send what the typed client never would.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Map, Value};

/// A socket to the server without the client's framing or checks.
pub struct RawConnection {
    stream: UnixStream,
}

impl RawConnection {
    /// Connects without registering.
    pub fn connect(socket: &Path) -> RawConnection {
        let stream = UnixStream::connect(socket).expect("raw connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        RawConnection { stream }
    }

    /// Connects and registers as Vineyard's client does.
    pub fn registered(socket: &Path) -> RawConnection {
        let mut connection = RawConnection::connect(socket);
        let reply = connection.request(&json!({
            "type": "register_request", "version": "0.24.2", "store_type": 1,
            "session_id": 0, "username": "", "password": "",
        }));
        assert_eq!(reply["type"], "register_reply", "{reply:?}");
        connection
    }

    /// Sends a frame header announcing `length` body bytes.
    pub fn send_header(&mut self, length: u64) {
        self.stream
            .write_all(&length.to_le_bytes())
            .expect("write header");
    }

    /// Sends bytes as they are (e.g. the body of a frame whose header went first).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write bytes");
    }

    /// Sends one frame with `body` as is.
    pub fn send_body(&mut self, body: &[u8]) {
        let mut frame = (body.len() as u64).to_le_bytes().to_vec();
        frame.extend_from_slice(body);
        self.stream.write_all(&frame).expect("write frame");
    }

    /// Sends one frame holding `message`.
    pub fn send_json(&mut self, message: &Value) {
        self.send_body(&serde_json::to_vec(message).expect("encode"));
    }

    /// Reads one reply frame; panics unless it is a well-formed JSON object.
    pub fn read_reply(&mut self) -> Map<String, Value> {
        let mut header = [0u8; 8];
        self.stream
            .read_exact(&mut header)
            .expect("reply header (the server closed or hung?)");
        let length = u64::from_le_bytes(header);
        assert!(length < 1 << 20, "implausible reply length {length}");
        let mut body = vec![0u8; length as usize];
        self.stream.read_exact(&mut body).expect("reply body");
        match serde_json::from_slice(&body) {
            Ok(Value::Object(reply)) => reply,
            other => panic!(
                "reply is not a JSON object: {other:?} ({:?})",
                String::from_utf8_lossy(&body)
            ),
        }
    }

    /// Sends `message` and reads its reply, then the fd messages it announces.
    pub fn request(&mut self, message: &Value) -> Map<String, Value> {
        self.send_json(message);
        let reply = self.read_reply();
        self.skip_announced_fds(&reply);
        reply
    }

    /// Reads the 1-byte messages that carry the fds a reply announces. A plain read takes the
    /// byte and the kernel closes the fd riding on it: this connection never maps anything.
    pub fn skip_announced_fds(&mut self, reply: &Map<String, Value>) {
        let announced = match (reply.get("fd"), reply.get("fds")) {
            (Some(fd), _) => usize::from(fd.as_i64().is_some_and(|fd| fd >= 0)),
            (None, Some(Value::Array(fds))) => fds.len(),
            _ => 0,
        };
        for _ in 0..announced {
            let mut byte = [0u8; 1];
            self.stream.read_exact(&mut byte).expect("fd message");
        }
    }

    /// True once the server has closed its end (a read sees end of file).
    pub fn is_closed_by_server(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) if error.kind() == ErrorKind::ConnectionReset => true,
            Err(error) => panic!("waiting for the server to close: {error}"),
        }
    }
}

/// Checks that `reply` is an error reply (non-zero `code`, a `message`, no `type`); returns
/// its code and message.
pub fn expect_error(reply: &Map<String, Value>) -> (i64, String) {
    let code = reply
        .get("code")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("not an error reply: {reply:?}"));
    assert_ne!(code, 0, "{reply:?}");
    assert!(
        !reply.contains_key("type"),
        "error reply with a type: {reply:?}"
    );
    let message = reply
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("error reply without a message: {reply:?}"));
    assert!(!message.is_empty(), "{reply:?}");
    (code, message.to_string())
}
