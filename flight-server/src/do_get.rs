//! `DoGet` served straight from the shared memory, below tonic (see `direct`).
//!
//! tonic encodes each `FlightData` into a fresh buffer, copying the body (and gathering it
//! into one contiguous field costs a second copy). Here the gRPC framing and the protobuf
//! field headers are written by hand and HTTP/2 gets the arrays' buffers as they are, so the
//! payload goes from the shared memory to the socket with no copy in this process. A `DoGet`
//! whose ticket is Flight SQL's goes on to tonic (its rows are a query's, not stored ones).
//!
//! The wire format is plain gRPC: per message a 5-byte prefix (uncompressed flag, length),
//! then the `FlightData` protobuf: field 2 (`data_header`) and field 1000 (`data_body`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow_flight::Ticket;
use bytes::{BufMut, Bytes, BytesMut};
use http_body::Frame;
use prost::Message as _;
use tonic::body::Body;
use tonic::metadata::MetadataMap;
use tonic::Status;

use crate::auth::TokenCheck;
use crate::direct::Served;
use crate::encode::{to_bytes, FlightDataStream, Message, LARGE_MESSAGE_SIZE, TARGET_MESSAGE_SIZE};
use crate::error::Error;
use crate::grpc::{grpc_response, trailers};
use crate::instance::Instance;
use crate::objects;
use crate::sql_route::is_sql_command;
use crate::target::TicketRequest;

/// Largest `DoGet` request accepted (a ticket is an id or a name).
const MAX_REQUEST: usize = 1 << 20;

/// Pieces smaller than this are gathered into one chunk (one HTTP/2 frame) with their
/// neighbours; larger ones are sent as they are.
const SMALL_PIECE: usize = 16 << 10;

/// Answers one `DoGet`: checks the token, reads the ticket, reads the object, and streams it.
pub(crate) async fn serve_do_get(
    instance: Arc<Instance>,
    token: TokenCheck,
    request: http::Request<Body>,
) -> Result<Served, Status> {
    token.check(&MetadataMap::from_headers(request.headers().clone()))?;
    let message_size = message_size(request.headers());
    let (parts, body) = request.into_parts();
    let bytes = read_request(body).await?;
    let ticket = decode_ticket(&bytes)?;
    if is_sql_command(&ticket.ticket) {
        let body = Body::new(http_body_util::Full::new(bytes.freeze()));
        return Ok(Served::Elsewhere(http::Request::from_parts(parts, body)));
    }
    let ticket = TicketRequest::parse(&ticket.ticket)?;
    let data = instance
        .run(move |client| match ticket {
            TicketRequest::Blob { id, chunk } => objects::read_blob(client, id, chunk),
            TicketRequest::Object(target) => objects::read(client, target.resolve_id(client)?),
        })
        .await?;
    let messages = FlightDataStream::new(&data.schema, data.batches, None)
        .map_err(Error::from)?
        .with_message_size(message_size);
    Ok(Served::Here(grpc_response(Body::new(GrpcFrames {
        messages,
        chunks: VecDeque::new(),
        done: false,
    }))))
}

/// How large the messages sent to this client are. gRPC C++ clients (pyarrow, Arrow C++)
/// lift gRPC's 4 MiB message limit for Flight and open their flow-control window a whole
/// message at a time, so fewer, larger messages reach them sooner; everyone else gets
/// messages within the usual limit.
fn message_size(headers: &http::HeaderMap) -> usize {
    let agent = headers
        .get(http::header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
        .unwrap_or_default();
    if agent.contains("grpc-c++/") {
        LARGE_MESSAGE_SIZE
    } else {
        TARGET_MESSAGE_SIZE
    }
}

/// The request's bytes (one gRPC message, framed), up to [`MAX_REQUEST`].
async fn read_request(mut body: Body) -> Result<BytesMut, Status> {
    let mut bytes = BytesMut::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut body), cx)).await
    {
        if let Ok(data) = frame?.into_data() {
            bytes.extend_from_slice(&data);
            if bytes.len() > MAX_REQUEST {
                return Err(Status::invalid_argument(format!(
                    "a DoGet request is a ticket of at most {MAX_REQUEST} bytes"
                )));
            }
        }
    }
    Ok(bytes)
}

/// The request's one gRPC message, decoded as a `Ticket`.
fn decode_ticket(bytes: &[u8]) -> Result<Ticket, Status> {
    if bytes.len() < 5 {
        return Err(Status::invalid_argument(
            "the DoGet request carries no ticket",
        ));
    }
    if bytes[0] != 0 {
        return Err(Status::unimplemented(
            "compressed DoGet requests are not supported; send the ticket uncompressed",
        ));
    }
    let length = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    let message = bytes.get(5..5 + length).ok_or_else(|| {
        Status::invalid_argument("the DoGet request was cut short inside its ticket")
    })?;
    Ticket::decode(message)
        .map_err(|error| Status::invalid_argument(format!("malformed DoGet ticket: {error}")))
}

/// The response body: each message as gRPC-framed `FlightData`, its body buffers passed on
/// as they are; then the trailers with the call's status.
struct GrpcFrames {
    messages: FlightDataStream,
    chunks: VecDeque<Bytes>,
    done: bool,
}

impl http_body::Body for GrpcFrames {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        loop {
            if let Some(chunk) = this.chunks.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match this.messages.next_message() {
                Some(Ok(message)) => this.chunks = frame(message),
                Some(Err(error)) => {
                    this.done = true;
                    let status = Status::internal(format!("cannot encode the stream: {error}"));
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers(&status)))));
                }
                None => {
                    this.done = true;
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers(&Status::ok(""))))));
                }
            }
        }
    }
}

/// One message as chunks: the gRPC prefix and protobuf field headers, then the body pieces
/// (small pieces gathered, large ones as they are).
fn frame(message: Message) -> VecDeque<Bytes> {
    let body_len = message.body_len();
    let mut fields = BytesMut::with_capacity(message.header.len() + 32);
    if !message.header.is_empty() {
        fields.put_u8(0x12); // field 2, length-delimited
        put_varint(&mut fields, message.header.len() as u64);
        fields.extend_from_slice(&message.header);
    }
    if body_len > 0 {
        fields.put_slice(&[0xc2, 0x3e]); // field 1000, length-delimited
        put_varint(&mut fields, body_len as u64);
    }
    let length = fields.len() + body_len;
    let mut chunks = VecDeque::new();
    let mut small = BytesMut::with_capacity(5 + fields.len());
    small.put_u8(0);
    small.put_u32(length as u32);
    small.extend_from_slice(&fields);
    for piece in message.body {
        if piece.len() < SMALL_PIECE {
            small.extend_from_slice(&piece);
        } else {
            if !small.is_empty() {
                chunks.push_back(small.split().freeze());
            }
            chunks.push_back(to_bytes(piece));
        }
    }
    if !small.is_empty() {
        chunks.push_back(small.freeze());
    }
    chunks
}

fn put_varint(out: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc as StdArc;

    use arrow::array::{Int64Array, RecordBatch};
    use arrow_flight::FlightData;

    use super::*;

    /// The framed bytes decode, as gRPC and protobuf, to the `FlightData` tonic would send.
    #[test]
    fn frames_are_grpc_flight_data() {
        let values = Int64Array::from_iter((0..10_000).map(|i| (i % 3 != 0).then_some(i)));
        let batch = RecordBatch::try_from_iter([("x", StdArc::new(values) as _)]).unwrap();
        let expected: Vec<FlightData> =
            FlightDataStream::new(&batch.schema(), vec![batch.clone()], None)
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let mut messages = FlightDataStream::new(&batch.schema(), vec![batch], None).unwrap();
        let mut decoded = Vec::new();
        while let Some(message) = messages.next_message() {
            let bytes: Vec<u8> = frame(message.unwrap()).iter().flatten().copied().collect();
            assert_eq!(bytes[0], 0);
            let length = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
            assert_eq!(length, bytes.len() - 5);
            decoded.push(FlightData::decode(&bytes[5..]).unwrap());
        }
        assert_eq!(decoded, expected);
    }
}
