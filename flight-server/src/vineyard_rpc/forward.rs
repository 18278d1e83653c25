//! The instance's own request handling for requests of a Vineyard RPC client: one UNIX
//! connection to the instance per RPC connection, carrying the client's JSON requests as they
//! are and the instance's replies back.

use std::path::Path;

use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use vineyard_core::protocol::frame;

use crate::error::{Error, Result};

/// A UNIX connection to the instance, speaking its IPC protocol.
pub(super) struct Forward {
    stream: UnixStream,
}

impl Forward {
    /// Connects to the instance's socket (not registered yet: the client's own
    /// `register_request` is the first thing forwarded).
    pub(super) async fn connect(socket: &Path) -> Result<Forward> {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|source| Error::Io {
                message: format!("cannot reach the instance on {}", socket.display()),
                source,
            })?;
        Ok(Forward { stream })
    }

    /// Sends one request and returns the instance's reply.
    pub(super) async fn call(
        &mut self,
        request: &Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        self.send(request).await?;
        let mut header = [0u8; frame::HEADER_LEN];
        self.stream
            .read_exact(&mut header)
            .await
            .map_err(|source| lost(source, "reading a reply"))?;
        let size = frame::body_len(header)?;
        let mut body = vec![0u8; size];
        self.stream
            .read_exact(&mut body)
            .await
            .map_err(|source| lost(source, "reading a reply"))?;
        Ok(frame::decode_body(&body)?)
    }

    /// Sends one request that has no reply (`exit_request`).
    pub(super) async fn send(&mut self, request: &Map<String, Value>) -> Result<()> {
        self.stream
            .write_all(&frame::encode(request))
            .await
            .map_err(|source| lost(source, "sending a request"))
    }
}

fn lost(source: std::io::Error, doing: &str) -> Error {
    Error::Io {
        message: format!("the instance's connection broke while {doing}"),
        source,
    }
}
