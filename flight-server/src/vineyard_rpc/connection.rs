//! One Vineyard RPC connection: read a frame, answer it (blob transfers here, everything else
//! forwarded to the instance), repeat until the client exits or the stream breaks.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use vineyard_core::protocol::{frame, ErrorReply, Payload};
use vineyard_core::{Blob, BlobWriter, IpcClient, ObjectID};

use super::forward::Forward;
use super::transfer::{Deflater, Inflater};
use crate::error::{Error, Result};

/// What every Vineyard RPC connection of one service shares.
#[derive(Debug)]
pub(crate) struct RpcContext {
    /// The instance's IPC socket.
    pub(crate) socket: PathBuf,
    /// The token a client must give as its `password`, if the service has one.
    pub(crate) token: Option<String>,
    /// The largest frame accepted (`--rpc_max_message_size`).
    pub(crate) max_frame: u64,
}

/// Requests whose replies carry file descriptors, which cannot cross TCP, and what to send
/// instead.
const FD_REQUESTS: &[(&str, &str)] = &[
    ("create_buffer_request", "create_remote_buffer_request"),
    ("create_buffers_request", "create_remote_buffers_request"),
    ("get_buffers_request", "get_remote_buffers_request"),
    ("meta_index_request", "get_data_request"),
];

/// Fields of our `register_reply` that offer IPC-only extensions: not offered over RPC.
const IPC_ONLY_OFFERS: &[&str] = &["reserve_ids", "meta_index"];

/// Answers a Vineyard RPC client with one error reply and closes: for a port that cannot
/// serve it (TLS).
pub(crate) async fn refuse<S: AsyncWrite + Unpin>(mut stream: S, error: Error) {
    let _ = stream.write_all(&error_frame(&error)).await;
    let _ = stream.shutdown().await;
}

/// Serves one Vineyard RPC client until it exits or the stream breaks.
pub(crate) async fn serve<S>(stream: S, context: Arc<RpcContext>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut session = Session {
        stream,
        context,
        forward: None,
        client: None,
    };
    if let Err(error) = session.run().await {
        tracing::debug!(%error, "Vineyard RPC connection ended");
    }
}

struct Session<S> {
    stream: S,
    context: Arc<RpcContext>,
    /// The instance, for forwarded requests (once registered).
    forward: Option<Forward>,
    /// The instance, for blobs (connected on first use).
    client: Option<IpcClient>,
}

/// How handling a request ended.
enum Next {
    /// Read the next request.
    Continue,
    /// Close the connection.
    Close,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    async fn run(&mut self) -> Result<()> {
        loop {
            let mut header = [0u8; frame::HEADER_LEN];
            match self.stream.read_exact(&mut header).await {
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(source) => return Err(io_error(source, "reading a request")),
            }
            let size = match frame::body_len_within(header, self.context.max_frame) {
                Ok(size) => size,
                Err(error) => {
                    // The stream cannot be resynchronised: explain, then close.
                    let error = Error::invalid(format!(
                        "{error} (--rpc_max_message_size); the connection is closed"
                    ));
                    self.reply_error(&error).await?;
                    return Ok(());
                }
            };
            let mut body = vec![0u8; size];
            self.stream
                .read_exact(&mut body)
                .await
                .map_err(|source| io_error(source, "reading a request"))?;
            let request = match frame::decode_body(&body) {
                Ok(request) => request,
                Err(error) => {
                    self.reply_error(&Error::Core(error)).await?;
                    continue;
                }
            };
            drop(body);
            match self.handle(request).await? {
                Next::Continue => {}
                Next::Close => return Ok(()),
            }
        }
    }

    async fn handle(&mut self, mut request: Map<String, Value>) -> Result<Next> {
        let kind = match request.get("type").and_then(Value::as_str) {
            Some(kind) => kind.to_string(),
            None => {
                let error = Error::invalid("a request needs a `type` (e.g. \"register_request\")");
                self.reply_error(&error).await?;
                return Ok(Next::Continue);
            }
        };
        if kind == "register_request" {
            return self.register(request).await;
        }
        let Some(forward) = self.forward.as_mut() else {
            let error = Error::invalid(format!(
                "`{kind}` before `register_request`: register first"
            ));
            self.reply_error(&error).await?;
            return Ok(Next::Continue);
        };
        match kind.as_str() {
            "exit_request" => {
                let _ = forward.send(&request).await;
                Ok(Next::Close)
            }
            "create_remote_buffer_request" | "create_remote_buffers_request" => {
                self.create_remote_buffers(&request, kind == "create_remote_buffers_request")
                    .await
            }
            "get_remote_buffers_request" => self.get_remote_buffers(&request).await,
            _ => {
                if let Some((_, instead)) = FD_REQUESTS.iter().find(|(name, _)| *name == kind) {
                    let error = Error::invalid(format!(
                        "`{kind}` hands out file descriptors, which cannot travel over RPC: \
                         send `{instead}` instead"
                    ));
                    self.reply_error(&error).await?;
                    return Ok(Next::Continue);
                }
                if kind == "get_data_request" {
                    // Our extension that maps blobs (fds) along with the trees.
                    request.remove("buffers");
                }
                let reply = forward.call(&request).await?;
                self.write(&frame::encode(&reply)).await?;
                Ok(Next::Continue)
            }
        }
    }

    async fn register(&mut self, request: Map<String, Value>) -> Result<Next> {
        if let Some(token) = &self.context.token {
            let password = request.get("password").and_then(Value::as_str);
            if password != Some(token.as_str()) {
                let error = Error::Core(vineyard_core::Error::Server {
                    code: vineyard_core::Code::ConnectionFailed,
                    message: "this instance wants its RPC token (vineyardd --rpc_token): connect \
                              with it as the password, e.g. vineyard.connect(host, port, \
                              password=token)"
                        .into(),
                });
                self.reply_error(&error).await?;
                return Ok(Next::Close);
            }
        }
        let mut forward = Forward::connect(&self.context.socket).await?;
        let mut reply = forward.call(&request).await?;
        if ErrorReply::from_message(&reply).is_none() {
            for offer in IPC_ONLY_OFFERS {
                reply.remove(*offer);
            }
            reply.insert("support_rpc_compression".into(), Value::Bool(true));
            self.forward = Some(forward);
        }
        self.write(&frame::encode(&reply)).await?;
        Ok(Next::Continue)
    }

    /// `create_remote_buffer(s)_request`: allocate, say "go on", receive, seal, confirm.
    async fn create_remote_buffers(
        &mut self,
        request: &Map<String, Value>,
        plural: bool,
    ) -> Result<Next> {
        let parsed = parse_create(request, plural);
        let (sizes, compress) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                self.reply_error(&error).await?;
                return Ok(Next::Continue);
            }
        };
        let client = self.client().await?;
        let allocated = blocking(move || {
            sizes
                .iter()
                .map(|&size| client.create_blob(size).map_err(Error::from))
                .collect::<Result<Vec<BlobWriter>>>()
        })
        .await;
        let mut writers = match allocated {
            Ok(writers) => writers,
            Err(error) => {
                self.reply_error(&error).await?;
                return Ok(Next::Continue);
            }
        };
        let created = created_reply(&writers, plural, false);
        self.write(&frame::encode(&created)).await?;
        let received = self.receive(&mut writers, compress).await;
        if let Err(error) = received {
            // The stream is out of step (or gone): say why, then close. The writers drop
            // unsealed, which gives their memory back.
            let _ = self.reply_error(&error).await;
            return Ok(Next::Close);
        }
        let sealed = blocking(move || {
            writers
                .into_iter()
                .map(|writer| writer.seal().map_err(Error::from))
                .collect::<Result<Vec<ObjectID>>>()
        })
        .await;
        match sealed {
            Ok(_) => {
                let reply = json_reply_again(created);
                self.write(&frame::encode(&reply)).await?;
            }
            Err(error) => self.reply_error(&error).await?,
        }
        Ok(Next::Continue)
    }

    async fn receive(&mut self, writers: &mut [BlobWriter], compress: bool) -> Result<()> {
        let mut inflater = if compress {
            Some(Inflater::new().map_err(|source| io_error(source, "starting zstd"))?)
        } else {
            None
        };
        for writer in writers.iter_mut().filter(|writer| writer.size() > 0) {
            let bytes: &mut [u8] = writer;
            let received = match inflater.as_mut() {
                Some(inflater) => inflater.receive(&mut self.stream, bytes).await,
                None => self.stream.read_exact(bytes).await.map(|_| ()),
            };
            received.map_err(|source| io_error(source, "receiving a remote blob's bytes"))?;
        }
        Ok(())
    }

    /// `get_remote_buffers_request`: the payloads, then the bytes of each blob.
    async fn get_remote_buffers(&mut self, request: &Map<String, Value>) -> Result<Next> {
        let (ids, compress) = match parse_get(request) {
            Ok(parsed) => parsed,
            Err(error) => {
                self.reply_error(&error).await?;
                return Ok(Next::Continue);
            }
        };
        let client = self.client().await?;
        let found = blocking(move || client.get_blobs(&ids).map_err(Error::from)).await;
        let blobs = match found {
            Ok(blobs) => blobs,
            Err(error) => {
                self.reply_error(&error).await?;
                return Ok(Next::Continue);
            }
        };
        let payloads: Vec<Value> = blobs
            .iter()
            .map(|blob| payload_json(blob_payload(blob)))
            .collect();
        let mut reply = Map::new();
        reply.insert("type".into(), "get_buffers_reply".into());
        for (index, payload) in payloads.iter().enumerate() {
            reply.insert(index.to_string(), payload.clone());
        }
        reply.insert("num".into(), payloads.len().into());
        reply.insert("payloads".into(), Value::Array(payloads));
        reply.insert("fds".into(), json!([]));
        reply.insert("compress".into(), compress.into());
        self.write(&frame::encode(&reply)).await?;
        let mut deflater = if compress {
            Some(Deflater::new().map_err(|source| io_error(source, "starting zstd"))?)
        } else {
            None
        };
        for blob in blobs.iter().filter(|blob| blob.size() > 0) {
            let sent = match deflater.as_mut() {
                Some(deflater) => deflater.send(&mut self.stream, &blob[..]).await,
                None => self.stream.write_all(&blob[..]).await,
            };
            sent.map_err(|source| io_error(source, "sending a blob's bytes"))?;
        }
        Ok(Next::Continue)
    }

    /// The connection for blobs, opened on first use.
    async fn client(&mut self) -> Result<IpcClient> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let socket = self.context.socket.clone();
        let client = blocking(move || IpcClient::connect(&socket).map_err(Error::from)).await?;
        self.client = Some(client.clone());
        Ok(client)
    }

    async fn reply_error(&mut self, error: &Error) -> Result<()> {
        self.write(&error_frame(error)).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|source| io_error(source, "sending a reply"))
    }
}

/// Runs blocking IPC work off the runtime's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Error::Protocol {
            message: format!("a request to the instance failed unexpectedly: {error}"),
        })?
}

fn io_error(source: std::io::Error, doing: &str) -> Error {
    Error::Io {
        message: format!("Vineyard RPC: {doing}"),
        source,
    }
}

/// The error reply for `error`, framed, with the Vineyard code a client raises.
fn error_frame(error: &Error) -> Vec<u8> {
    let reply = match error {
        Error::Core(core) => ErrorReply::of(core),
        other => ErrorReply {
            code: other.vineyard_code().as_i64(),
            message: other.to_string(),
            ..ErrorReply::default()
        },
    };
    frame::encode(&reply)
}

fn flag(request: &Map<String, Value>, name: &str) -> Result<bool> {
    match request.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(other) => Err(Error::invalid(format!(
            "`{name}` must be true or false, got {other}"
        ))),
    }
}

fn size_of(value: &Value, what: &str) -> Result<usize> {
    value
        .as_u64()
        .and_then(|size| usize::try_from(size).ok())
        .ok_or_else(|| Error::invalid(format!("{what} must be a byte count, got {value}")))
}

/// The sizes and the compression flag of a `create_remote_buffer(s)_request`.
fn parse_create(request: &Map<String, Value>, plural: bool) -> Result<(Vec<usize>, bool)> {
    if flag(request, "use_rdma")? {
        return Err(Error::Core(vineyard_core::Error::NotImplemented {
            what: "RDMA (connect without VINEYARD_RDMA_ENDPOINT)".into(),
        }));
    }
    let sizes = if plural {
        match request.get("sizes") {
            Some(Value::Array(sizes)) => sizes
                .iter()
                .map(|size| size_of(size, "each of `sizes`"))
                .collect::<Result<Vec<_>>>()?,
            _ => {
                return Err(Error::invalid(
                    "`create_remote_buffers_request` needs `sizes`, a list",
                ))
            }
        }
    } else {
        let size = request
            .get("size")
            .ok_or_else(|| Error::invalid("`create_remote_buffer_request` needs `size`"))?;
        vec![size_of(size, "`size`")?]
    };
    Ok((sizes, flag(request, "compress")?))
}

/// The ids (`"0"` .. `"num-1"`, duplicates dropped) and the compression flag of a
/// `get_remote_buffers_request`.
fn parse_get(request: &Map<String, Value>) -> Result<(Vec<ObjectID>, bool)> {
    if flag(request, "use_rdma")? {
        return Err(Error::Core(vineyard_core::Error::NotImplemented {
            what: "RDMA (connect without VINEYARD_RDMA_ENDPOINT)".into(),
        }));
    }
    let num = request
        .get("num")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::invalid("`get_remote_buffers_request` needs `num`"))?;
    if num > request.len() as u64 {
        return Err(Error::invalid(format!(
            "`get_remote_buffers_request` announces {num} ids but carries fewer"
        )));
    }
    let mut ids = Vec::with_capacity(num as usize);
    for index in 0..num {
        let id = request
            .get(&index.to_string())
            .and_then(Value::as_u64)
            .map(ObjectID)
            .ok_or_else(|| Error::invalid(format!("id `{index}` is missing or not a number")))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok((ids, flag(request, "compress")?))
}

fn payload_json(payload: Payload) -> Value {
    serde_json::to_value(payload).expect("a payload serialises")
}

/// A blob's payload as RPC clients see it: no memory file (`store_fd` -1).
fn blob_payload(blob: &Blob) -> Payload {
    Payload {
        object_id: blob.id().0,
        data_size: blob.size() as i64,
        ..Payload::empty()
    }
}

/// `create_buffer_reply` (one blob) or `create_buffers_reply` (several) for `writers`.
fn created_reply(writers: &[BlobWriter], plural: bool, sealed: bool) -> Map<String, Value> {
    let payloads: Vec<Value> = writers
        .iter()
        .map(|writer| {
            payload_json(Payload {
                object_id: writer.id().0,
                data_size: writer.size() as i64,
                is_sealed: sealed,
                ..Payload::empty()
            })
        })
        .collect();
    let mut reply = Map::new();
    if plural {
        reply.insert("type".into(), "create_buffers_reply".into());
        reply.insert("num".into(), writers.len().into());
        let ids: Vec<u64> = writers.iter().map(|writer| writer.id().0).collect();
        reply.insert("ids".into(), json!(ids));
        reply.insert("fds".into(), json!([]));
        for (index, payload) in payloads.iter().enumerate() {
            reply.insert(index.to_string(), payload.clone());
        }
        reply.insert("payloads".into(), Value::Array(payloads));
    } else {
        reply.insert("type".into(), "create_buffer_reply".into());
        reply.insert("id".into(), writers[0].id().0.into());
        reply.insert("created".into(), payloads[0].clone());
        reply.insert("fd".into(), (-1).into());
    }
    reply
}

/// The reply confirming the bytes were stored: the first one, the blobs now sealed.
fn json_reply_again(mut created: Map<String, Value>) -> Map<String, Value> {
    fn seal(payload: &mut Value) {
        if let Some(fields) = payload.as_object_mut() {
            fields.insert("is_sealed".into(), true.into());
        }
    }
    for (key, value) in created.iter_mut() {
        match key.as_str() {
            "created" => seal(value),
            "payloads" => value.as_array_mut().into_iter().flatten().for_each(seal),
            key if key.bytes().all(|byte| byte.is_ascii_digit()) => seal(value),
            _ => {}
        }
    }
    created
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_strictly() {
        let request = |text: &str| match serde_json::from_str(text).unwrap() {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        assert_eq!(
            parse_create(&request(r#"{"size": 5, "compress": true}"#), false).unwrap(),
            (vec![5], true)
        );
        assert_eq!(
            parse_create(&request(r#"{"sizes": [1, 0, 7]}"#), true).unwrap(),
            (vec![1, 0, 7], false)
        );
        let error = parse_create(&request(r#"{"size": -1}"#), false).unwrap_err();
        assert!(error.to_string().contains("byte count"), "{error}");
        let error = parse_create(&request(r#"{"size": 1, "use_rdma": true}"#), false).unwrap_err();
        assert!(error.to_string().contains("RDMA"), "{error}");
        assert_eq!(
            parse_get(&request(r#"{"num": 2, "0": 9, "1": 9, "compress": false}"#)).unwrap(),
            (vec![ObjectID(9)], false)
        );
        let error = parse_get(&request(r#"{"num": 1000000000}"#)).unwrap_err();
        assert!(error.to_string().contains("carries fewer"), "{error}");
        let error = parse_get(&request(r#"{"num": 1, "0": "x"}"#)).unwrap_err();
        assert!(error.to_string().contains("not a number"), "{error}");
    }
}
