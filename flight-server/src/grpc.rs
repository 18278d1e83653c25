//! gRPC messages read and written below tonic, for the calls answered there (`direct`).
//!
//! Incoming `FlightData` is read straight from the HTTP/2 body: each message's Arrow body is
//! gathered from the frames into one 64-byte-aligned buffer, its only copy in this process.
//! (tonic gathers a message into a buffer of its own, where the Arrow body lands at whatever
//! address follows the protobuf fields before it, and arrow's IPC decoder then copies every
//! buffer that is not aligned for its type: two copies of every byte before it is stored.)
//!
//! The wire format is plain gRPC: per message a 5-byte prefix (compressed flag, big-endian
//! length), then the protobuf `FlightData`: field 1 `flight_descriptor`, 2 `data_header`,
//! 3 `app_metadata`, 1000 `data_body`; unknown fields are skipped, as protobuf wants.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};

use arrow::buffer::MutableBuffer;
use arrow_flight::{FlightData, FlightDescriptor};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::StreamExt;
use http::header::CONTENT_TYPE;
use http::HeaderValue;
use http_body::Frame;
use prost::Message as _;
use tonic::body::Body;
use tonic::Status;

use crate::limits::Limits;

/// The `FlightData` field that carries the Arrow body.
const BODY_FIELD: u64 = 1000;

/// The `FlightData` messages of a request body, read as they arrive.
pub(crate) struct IncomingMessages {
    body: Body,
    /// Bytes received and not consumed yet, in order.
    received: VecDeque<Bytes>,
    /// The body has no more frames.
    ended: bool,
    limits: Limits,
    /// Buffers of earlier message bodies, back for reuse.
    spare: Arc<Spare>,
}

/// Aligned buffers that message bodies were gathered into, returned once nothing uses them:
/// reusing one skips the page faults of fresh memory (as many as the copy costs again). The
/// buffers are freed with the call.
type Spare = Mutex<Vec<MutableBuffer>>;

/// Spare buffers kept per call: the messages being decoded and stored at once.
const SPARE_BUFFERS: usize = 4;

/// A message body in a buffer that goes back to its call's spares when dropped.
struct PooledBody {
    buffer: MutableBuffer,
    spare: Weak<Spare>,
}

impl AsRef<[u8]> for PooledBody {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_slice()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        let Some(spare) = self.spare.upgrade() else {
            return;
        };
        let mut spare = spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < SPARE_BUFFERS {
            spare.push(std::mem::take(&mut self.buffer));
        }
    }
}

impl IncomingMessages {
    /// Reads the messages of `body`, refusing any over `limits.max_message_size`.
    pub(crate) fn new(body: Body, limits: Limits) -> IncomingMessages {
        IncomingMessages {
            body,
            received: VecDeque::new(),
            ended: false,
            limits,
            spare: Arc::default(),
        }
    }

    /// The next message, or `None` where the stream ends between messages.
    pub(crate) async fn next(&mut self) -> Result<Option<FlightData>, Status> {
        if self.exhausted().await? {
            return Ok(None);
        }
        let prefix = self.take(5).await?;
        if prefix[0] != 0 {
            return Err(Status::unimplemented(
                "compressed gRPC messages are not accepted by this call: send them \
                 uncompressed",
            ));
        }
        let length = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
        if length > self.limits.max_message_size {
            return Err(self
                .limits
                .message_too_large(&format!("the message has {length} bytes"))
                .into());
        }
        self.flight_data(length).await.map(Some)
    }

    /// The rest of the stream as a stream of messages.
    pub(crate) fn into_stream(self) -> BoxStream<'static, Result<FlightData, Status>> {
        futures::stream::unfold(Some(self), |state| async move {
            let mut messages = state?;
            match messages.next().await {
                Ok(Some(message)) => Some((Ok(message), Some(messages))),
                Ok(None) => None,
                Err(status) => Some((Err(status), None)),
            }
        })
        .boxed()
    }

    /// What is left of the body, with `front` (bytes read already, to be read again) before
    /// it: a request body for another service.
    pub(crate) fn into_body(self, front: Bytes) -> Body {
        let mut queued = VecDeque::from([front]);
        queued.extend(self.received);
        Body::new(Replayed {
            queued,
            rest: (!self.ended).then_some(self.body),
        })
    }

    /// One message of `length` bytes after its prefix.
    async fn flight_data(&mut self, length: usize) -> Result<FlightData, Status> {
        let mut left = length;
        let mut data = FlightData::default();
        while left > 0 {
            let key = self.varint(&mut left).await?;
            match key & 7 {
                0 => {
                    self.varint(&mut left).await?;
                }
                1 => self.skip_within(8, &mut left).await?,
                5 => self.skip_within(4, &mut left).await?,
                2 => {
                    let size = usize::try_from(self.varint(&mut left).await?)
                        .ok()
                        .filter(|size| *size <= left)
                        .ok_or_else(|| malformed("a field runs past the end of its message"))?;
                    left -= size;
                    match key >> 3 {
                        1 => {
                            let descriptor = FlightDescriptor::decode(self.take(size).await?)
                                .map_err(|error| {
                                    malformed(&format!("unreadable flight_descriptor: {error}"))
                                })?;
                            data.flight_descriptor = Some(descriptor);
                        }
                        2 => data.data_header = self.take(size).await?,
                        3 => data.app_metadata = self.take(size).await?,
                        BODY_FIELD => data.data_body = self.aligned(size).await?,
                        _ => self.skip(size).await?,
                    }
                }
                wire => {
                    return Err(malformed(&format!(
                        "field {} has wire type {wire}, which FlightData does not use",
                        key >> 3
                    )))
                }
            }
        }
        Ok(data)
    }

    /// Whether the stream ends here (no byte left, and no frame to come).
    async fn exhausted(&mut self) -> Result<bool, Status> {
        while self.received.is_empty() {
            if !self.receive().await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Waits for the next data frame; false once the body has ended.
    async fn receive(&mut self) -> Result<bool, Status> {
        while !self.ended {
            let frame = std::future::poll_fn(|cx| {
                http_body::Body::poll_frame(Pin::new(&mut self.body), cx)
            })
            .await;
            match frame {
                None => self.ended = true,
                Some(Err(status)) => {
                    self.ended = true;
                    return Err(Status::cancelled(format!(
                        "the client's stream broke off: {}",
                        status.message()
                    )));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            self.received.push_back(data);
                            return Ok(true);
                        }
                    }
                }
            }
        }
        Ok(false)
    }

    /// The first received chunk, waiting for one if need be; an error if the stream ends.
    async fn front(&mut self) -> Result<&mut Bytes, Status> {
        if self.exhausted().await? {
            return Err(malformed("the stream ended inside a message"));
        }
        Ok(self.received.front_mut().expect("not exhausted"))
    }

    /// Drops the first chunk if it is used up.
    fn consumed(&mut self) {
        if self.received.front().is_some_and(Bytes::is_empty) {
            self.received.pop_front();
        }
    }

    /// The next `size` bytes: a slice of one chunk where they lie in one, else gathered.
    async fn take(&mut self, size: usize) -> Result<Bytes, Status> {
        if size == 0 {
            return Ok(Bytes::new());
        }
        let front = self.front().await?;
        if front.len() >= size {
            let bytes = front.split_to(size);
            self.consumed();
            return Ok(bytes);
        }
        let mut gathered = BytesMut::with_capacity(size);
        while gathered.len() < size {
            let front = self.front().await?;
            let part = front.len().min(size - gathered.len());
            gathered.put_slice(&front[..part]);
            front.advance(part);
            self.consumed();
        }
        Ok(gathered.freeze())
    }

    /// The next `size` bytes copied into one 64-byte-aligned buffer (a spare one if one is
    /// large enough).
    async fn aligned(&mut self, size: usize) -> Result<Bytes, Status> {
        if size == 0 {
            return Ok(Bytes::new());
        }
        let reused = {
            let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
            let fits = spare.iter().position(|buffer| buffer.capacity() >= size);
            fits.map(|index| spare.swap_remove(index))
        };
        let mut body = reused.unwrap_or_else(|| MutableBuffer::with_capacity(size));
        body.clear();
        while body.len() < size {
            let front = self.front().await?;
            let part = front.len().min(size - body.len());
            body.extend_from_slice(&front[..part]);
            front.advance(part);
            self.consumed();
        }
        Ok(Bytes::from_owner(PooledBody {
            buffer: body,
            spare: Arc::downgrade(&self.spare),
        }))
    }

    /// Skips the next `size` bytes.
    async fn skip(&mut self, mut size: usize) -> Result<(), Status> {
        while size > 0 {
            let front = self.front().await?;
            let part = front.len().min(size);
            front.advance(part);
            size -= part;
            self.consumed();
        }
        Ok(())
    }

    /// Skips `size` bytes of the `left` in the message.
    async fn skip_within(&mut self, size: usize, left: &mut usize) -> Result<(), Status> {
        *left = left
            .checked_sub(size)
            .ok_or_else(|| malformed("a field runs past the end of its message"))?;
        self.skip(size).await
    }

    /// A protobuf varint among the `left` bytes of the message.
    async fn varint(&mut self, left: &mut usize) -> Result<u64, Status> {
        let mut value = 0u64;
        for index in 0..10 {
            if *left == 0 {
                return Err(malformed("a varint runs past the end of its message"));
            }
            *left -= 1;
            let front = self.front().await?;
            let byte = front[0];
            front.advance(1);
            self.consumed();
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("a varint is longer than 10 bytes"))
    }
}

fn malformed(what: &str) -> Status {
    Status::invalid_argument(format!(
        "malformed gRPC FlightData message: {what}; nothing was stored"
    ))
}

/// A request body read again: `queued` bytes, then what `rest` still has.
struct Replayed {
    queued: VecDeque<Bytes>,
    rest: Option<Body>,
}

impl http_body::Body for Replayed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        if let Some(bytes) = this.queued.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(bytes))));
        }
        match this.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }
}

/// `message` with its gRPC prefix (uncompressed).
pub(crate) fn framed(message: &impl prost::Message) -> Bytes {
    let length = message.encoded_len();
    let mut bytes = BytesMut::with_capacity(5 + length);
    bytes.put_u8(0);
    bytes.put_u32(length as u32);
    message
        .encode(&mut bytes)
        .expect("the buffer has room for the message");
    bytes.freeze()
}

/// The trailers that end a call with `status`.
pub(crate) fn trailers(status: &Status) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    // Fails only for metadata that cannot be a header; a status of ours has none.
    let _ = status.add_header(&mut headers);
    headers
}

/// A response of one message, then a successful status.
pub(crate) fn one_message(message: &impl prost::Message) -> http::Response<Body> {
    let frames = [
        Ok::<_, Status>(Frame::data(framed(message))),
        Ok(Frame::trailers(trailers(&Status::ok("")))),
    ];
    let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
    grpc_response(Body::new(body))
}

/// An `application/grpc` response with `body`.
pub(crate) fn grpc_response(body: Body) -> http::Response<Body> {
    let mut response = http::Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}

#[cfg(test)]
mod tests {
    use arrow_flight::PutResult;

    use super::*;

    /// A body that hands `bytes` over in pieces of `piece` bytes.
    fn body_in_pieces(bytes: &[u8], piece: usize) -> Body {
        let frames: Vec<Result<Frame<Bytes>, Status>> = bytes
            .chunks(piece)
            .map(|chunk| Ok(Frame::data(Bytes::copy_from_slice(chunk))))
            .collect();
        Body::new(http_body_util::StreamBody::new(futures::stream::iter(
            frames,
        )))
    }

    fn sample() -> Vec<FlightData> {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        vec![
            FlightData {
                flight_descriptor: Some(FlightDescriptor::new_cmd(
                    b"{\"kind\": \"table\"}".to_vec(),
                )),
                data_header: Bytes::from_static(b"header one"),
                app_metadata: Bytes::new(),
                data_body: Bytes::new(),
            },
            FlightData {
                flight_descriptor: None,
                data_header: Bytes::from_static(b"header two"),
                app_metadata: Bytes::from_static(b"meta"),
                data_body: Bytes::from(body),
            },
            FlightData::default(),
        ]
    }

    fn wire(messages: &[FlightData]) -> Vec<u8> {
        messages.iter().flat_map(|m| framed(m).to_vec()).collect()
    }

    async fn read_all(body: Body, limits: Limits) -> Result<Vec<FlightData>, Status> {
        let mut incoming = IncomingMessages::new(body, limits);
        let mut messages = Vec::new();
        while let Some(message) = incoming.next().await? {
            messages.push(message);
        }
        Ok(messages)
    }

    #[tokio::test]
    async fn messages_read_back_whatever_the_frames_and_bodies_are_aligned() {
        let messages = sample();
        let bytes = wire(&messages);
        for piece in [1, 3, 7, 64, 4093, bytes.len()] {
            let read = read_all(body_in_pieces(&bytes, piece), Limits::default())
                .await
                .unwrap();
            assert_eq!(read, messages, "pieces of {piece} bytes");
            let body = &read[1].data_body;
            assert_eq!(body.as_ptr() as usize % 64, 0, "pieces of {piece} bytes");
        }
    }

    #[tokio::test]
    async fn a_dropped_body_is_reused_and_a_held_one_is_not() {
        let body = sample()[1].clone();
        let bytes = wire(&[body.clone(), body.clone(), body.clone()]);
        let mut incoming = IncomingMessages::new(body_in_pieces(&bytes, 4096), Limits::default());
        let first = incoming.next().await.unwrap().unwrap();
        let held = first.data_body.as_ptr();
        let second = incoming.next().await.unwrap().unwrap();
        assert_ne!(
            second.data_body.as_ptr(),
            held,
            "a held body was written over"
        );
        let freed = second.data_body.as_ptr();
        drop(second);
        let third = incoming.next().await.unwrap().unwrap();
        assert_eq!(third.data_body.as_ptr(), freed);
        assert_eq!(third, body);
        assert_eq!(first, body);
    }

    #[tokio::test]
    async fn unknown_fields_are_skipped() {
        let mut bytes = BytesMut::new();
        let message = &sample()[1];
        let mut encoded = message.encode_to_vec();
        // field 7 varint, field 8 fixed64, field 9 fixed32, field 10 bytes
        encoded.extend_from_slice(&[7 << 3, 0x96, 0x01]);
        encoded.extend_from_slice(&[(8 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8]);
        encoded.extend_from_slice(&[(9 << 3) | 5, 1, 2, 3, 4]);
        encoded.extend_from_slice(&[(10 << 3) | 2, 2, 0xaa, 0xbb]);
        // Empty fields written out (proto3 writers may), the last one ending the stream: an
        // empty `app_metadata` replaces the one before, as protobuf wants.
        encoded.extend_from_slice(&[(11 << 3) | 2, 0, (3 << 3) | 2, 0]);
        bytes.put_u8(0);
        bytes.put_u32(encoded.len() as u32);
        bytes.extend_from_slice(&encoded);
        let read = read_all(body_in_pieces(&bytes, 5), Limits::default())
            .await
            .unwrap();
        let expected = FlightData {
            app_metadata: Bytes::new(),
            ..message.clone()
        };
        assert!(read == [expected], "the message read back differs");
    }

    #[tokio::test]
    async fn cut_oversized_and_malformed_messages_are_refused() {
        let bytes = wire(&sample());
        let cut = read_all(
            body_in_pieces(&bytes[..bytes.len() - 10], 100),
            Limits::default(),
        )
        .await
        .unwrap_err();
        assert!(cut.message().contains("ended inside a message"), "{cut}");

        let small = Limits {
            max_message_size: 1000,
            ..Limits::default()
        };
        let large = read_all(body_in_pieces(&bytes, 100), small)
            .await
            .unwrap_err();
        assert!(
            large.message().contains("--rpc_max_message_size"),
            "{large}"
        );

        let compressed = [1, 0, 0, 0, 0];
        let error = read_all(body_in_pieces(&compressed, 5), Limits::default())
            .await
            .unwrap_err();
        assert_eq!(error.code(), tonic::Code::Unimplemented);

        // A body field that claims more bytes than its message has.
        let lying = [0, 0, 0, 0, 4, 0xc2, 0x3e, 100, 0];
        let error = read_all(body_in_pieces(&lying, 2), Limits::default())
            .await
            .unwrap_err();
        assert!(error.message().contains("runs past the end"), "{error}");
    }

    #[tokio::test]
    async fn what_is_left_replays_for_another_service() {
        let messages = sample();
        let bytes = wire(&messages);
        let mut incoming = IncomingMessages::new(body_in_pieces(&bytes, 1000), Limits::default());
        let first = incoming.next().await.unwrap().unwrap();
        let body = incoming.into_body(framed(&first));
        let again = read_all(body, Limits::default()).await.unwrap();
        assert_eq!(again, messages);

        let reply = PutResult {
            app_metadata: Bytes::from_static(b"o123"),
        };
        let framed = framed(&reply);
        assert_eq!(framed[0], 0);
        assert_eq!(PutResult::decode(&framed[5..]).unwrap(), reply);
    }
}
