//! The client's side of one socket: exact-length frames, then the fds a reply announces.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use serde_json::{Map, Value};

use crate::error::{Code, Error, Result};
use crate::id::ObjectID;
use crate::protocol::{frame, Request};
use crate::sys;

/// A registered connection. Not thread-safe by itself: the client wraps it in a mutex.
pub struct Connection {
    stream: UnixStream,
    /// Memory files received, by the server's `store_fd` number.
    pub files: HashMap<i32, File>,
    /// How many live handles this process holds on each blob (released at zero).
    pub holds: HashMap<ObjectID, usize>,
    broken: Option<String>,
}

impl Connection {
    /// Wraps a connected stream.
    pub fn new(stream: UnixStream) -> Connection {
        Connection {
            stream,
            files: HashMap::new(),
            holds: HashMap::new(),
            broken: None,
        }
    }

    /// Sends a request and reads its reply (and announced fds); error replies become errors.
    pub fn call(&mut self, request: &Request) -> Result<Map<String, Value>> {
        if let Some(reason) = &self.broken {
            return Err(Error::ConnectionLost {
                message: reason.clone(),
            });
        }
        let result = self.exchange(request);
        if let Err(error) = &result {
            if matches!(
                error,
                Error::Io(_) | Error::Protocol { .. } | Error::FrameTooLarge { .. }
            ) {
                self.broken = Some(error.to_string());
                return Err(Error::ConnectionLost {
                    message: error.to_string(),
                });
            }
        }
        result
    }

    /// Sends a request that gets no reply (`exit_request`).
    pub fn send_only(&mut self, request: &Request) -> Result<()> {
        frame::write_blocking(&mut self.stream, &request.to_json())
    }

    fn exchange(&mut self, request: &Request) -> Result<Map<String, Value>> {
        frame::write_blocking(&mut self.stream, &request.to_json())?;
        let reply = frame::read_blocking(&mut self.stream)?;
        if let Some(code) = reply
            .get("code")
            .and_then(Value::as_i64)
            .filter(|&code| code != 0)
        {
            return Err(error_from_reply(code, &reply));
        }
        let expected = request.reply_type();
        match reply.get("type").and_then(Value::as_str) {
            Some(kind) if kind == expected => {}
            other => {
                return Err(Error::Protocol {
                    message: format!("expected a {expected}, got {other:?}"),
                })
            }
        }
        self.receive_announced_fds(&reply)?;
        Ok(reply)
    }

    fn receive_announced_fds(&mut self, reply: &Map<String, Value>) -> Result<()> {
        let announced: Vec<i64> = match (reply.get("fd"), reply.get("fds")) {
            (Some(fd), _) => fd.as_i64().into_iter().filter(|&fd| fd >= 0).collect(),
            (None, Some(Value::Array(fds))) => fds.iter().filter_map(Value::as_i64).collect(),
            _ => Vec::new(),
        };
        for store_fd in announced {
            let received = sys::recv_fd(self.stream.as_raw_fd())?;
            self.files.insert(store_fd as i32, File::from(received));
        }
        Ok(())
    }
}

/// Turns an error reply into the matching typed error.
fn error_from_reply(code: i64, reply: &Map<String, Value>) -> Error {
    let message = reply
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("(no message)")
        .to_string();
    let number = |key: &str| reply.get(key).and_then(Value::as_u64);
    match Code::from_i64(code) {
        Code::NotEnoughMemory => match (number("requested"), number("available")) {
            (Some(requested), Some(available)) => Error::NotEnoughMemory {
                requested,
                available,
            },
            _ => Error::Server {
                code: Code::NotEnoughMemory,
                message,
            },
        },
        Code::ObjectNotExists if number("object_id").is_some() => Error::ObjectNotExists {
            id: ObjectID(number("object_id").expect("checked")),
        },
        Code::ObjectNotSealed if number("object_id").is_some() => Error::ObjectNotSealed {
            id: ObjectID(number("object_id").expect("checked")),
        },
        code => Error::Server { code, message },
    }
}
