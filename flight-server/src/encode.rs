//! Record batches to Flight messages.
//!
//! arrow-ipc's `StreamEncoder` lays a batch out as Arrow IPC stream pieces whose body buffers
//! are the arrays' own buffers (slices of the shared memory, not copies); this module cuts
//! that stream into messages: a flatbuffer header and the list of body buffers. Large batches
//! are first cut into row ranges so that each message stays near [`TARGET_MESSAGE_SIZE`].
//!
//! (arrow-flight's `FlightDataEncoder` is not used: in 59.x it announces `LargeList` columns
//! as `List` while sending 64-bit offsets, which readers then misread.)

use std::collections::VecDeque;

use arrow::array::RecordBatch;
use arrow::buffer::Buffer;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::ipc::writer::StreamEncoder;
use arrow_flight::{FlightData, FlightDescriptor};
use bytes::{Bytes, BytesMut};

/// Body bytes per message that batches are cut to (rows permitting): within gRPC's usual
/// 4 MiB limit with room for headers.
pub(crate) const TARGET_MESSAGE_SIZE: usize = 2 << 20;

/// The same for clients known to accept messages of any size.
pub(crate) const LARGE_MESSAGE_SIZE: usize = 16 << 20;

/// One Arrow IPC message: its flatbuffer header and its body, as the arrays' buffers.
pub(crate) struct Message {
    pub(crate) header: Bytes,
    pub(crate) body: Vec<Buffer>,
}

impl Message {
    /// Body length in bytes.
    pub(crate) fn body_len(&self) -> usize {
        self.body.iter().map(Buffer::len).sum()
    }

    /// The message as `FlightData`, its body gathered into one contiguous buffer (gRPC
    /// messages carry the body as one field).
    pub(crate) fn into_flight_data(self) -> FlightData {
        let data_body = match self.body.as_slice() {
            [] => Bytes::new(),
            [one] => to_bytes(one.clone()),
            pieces => {
                let mut body = BytesMut::with_capacity(self.body_len());
                for piece in pieces {
                    body.extend_from_slice(piece);
                }
                body.freeze()
            }
        };
        FlightData {
            flight_descriptor: None,
            data_header: self.header,
            app_metadata: Bytes::new(),
            data_body,
        }
    }
}

/// Encodes one stream: the schema message, then each batch's dictionary and record batch
/// messages.
pub(crate) struct Encoder {
    encoder: Option<StreamEncoder>,
    schema_sent: bool,
    target_size: usize,
}

impl Encoder {
    pub(crate) fn new(schema: &SchemaRef) -> Result<Encoder, ArrowError> {
        Ok(Encoder {
            encoder: Some(StreamEncoder::try_new(schema)?),
            schema_sent: false,
            target_size: TARGET_MESSAGE_SIZE,
        })
    }

    /// The messages of `batch` (the first call also yields the schema message).
    pub(crate) fn encode(&mut self, batch: &RecordBatch) -> Result<Vec<Message>, ArrowError> {
        let encoder = self.encoder.as_mut().ok_or_else(finished)?;
        let mut messages = Vec::new();
        for slice in slices(batch, self.target_size) {
            messages.extend(split(encoder.encode(&slice)?)?);
        }
        self.schema_sent = true;
        Ok(messages)
    }

    /// The schema message if no batch carried it (an empty stream still has a schema).
    pub(crate) fn finish(&mut self) -> Result<Vec<Message>, ArrowError> {
        let encoder = self.encoder.take().ok_or_else(finished)?;
        if self.schema_sent {
            return Ok(Vec::new());
        }
        split(encoder.finish()?)
    }
}

fn finished() -> ArrowError {
    ArrowError::InvalidArgumentError("the Flight encoder was used after finishing".into())
}

/// `batch` cut into row ranges of about `target` body bytes each; ranges are multiples of 64
/// rows so that validity bitmaps are cut on byte boundaries (sent as they are, not shifted).
fn slices(batch: &RecordBatch, target: usize) -> Vec<RecordBatch> {
    let rows = batch.num_rows();
    let size: usize = batch
        .columns()
        .iter()
        .map(|column| column.get_buffer_memory_size())
        .sum();
    if size <= target || rows <= 64 {
        return vec![batch.clone()];
    }
    let per_slice = (rows * target / size).max(64) / 64 * 64;
    (0..rows)
        .step_by(per_slice)
        .map(|start| batch.slice(start, per_slice.min(rows - start)))
        .collect()
}

/// Cuts IPC stream pieces into messages: an 8-byte prefix (continuation marker, metadata
/// length), the metadata, then `bodyLength` bytes of body; a zero length ends the stream.
fn split(pieces: Vec<Buffer>) -> Result<Vec<Message>, ArrowError> {
    let mut stream = Pieces(pieces.into());
    let mut messages = Vec::new();
    while !stream.is_empty() {
        let prefix = gather(stream.take(8)?);
        if prefix[..4] != [0xff; 4] {
            return Err(ArrowError::IpcError(
                "IPC stream piece without a continuation marker".into(),
            ));
        }
        let metadata_len = i32::from_le_bytes(prefix[4..8].try_into().expect("4 bytes"));
        if metadata_len <= 0 {
            break;
        }
        let header = gather(stream.take(metadata_len as usize)?);
        let body_len = arrow::ipc::root_as_message(&header)
            .map_err(|error| ArrowError::IpcError(format!("unreadable IPC header: {error}")))?
            .bodyLength();
        let body = stream.take(body_len as usize)?;
        messages.push(Message { header, body });
    }
    Ok(messages)
}

/// An Arrow buffer as `Bytes`, sharing its memory.
pub(crate) fn to_bytes(buffer: Buffer) -> Bytes {
    struct Owner(Buffer);
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            self.0.as_slice()
        }
    }
    Bytes::from_owner(Owner(buffer))
}

fn gather(buffers: Vec<Buffer>) -> Bytes {
    match buffers.as_slice() {
        [one] => to_bytes(one.clone()),
        _ => Bytes::from(
            buffers
                .iter()
                .flat_map(|b| b.iter().copied())
                .collect::<Vec<u8>>(),
        ),
    }
}

/// A queue of buffers read as one byte stream.
struct Pieces(VecDeque<Buffer>);

impl Pieces {
    fn is_empty(&self) -> bool {
        self.0.iter().all(|buffer| buffer.is_empty())
    }

    /// The next `len` bytes, as whole buffers where possible (slices, never copies).
    fn take(&mut self, mut len: usize) -> Result<Vec<Buffer>, ArrowError> {
        let mut taken = Vec::new();
        while len > 0 {
            let buffer = self
                .0
                .pop_front()
                .ok_or_else(|| ArrowError::IpcError("IPC stream ended inside a message".into()))?;
            if buffer.len() <= len {
                len -= buffer.len();
                taken.push(buffer);
            } else {
                taken.push(buffer.slice_with_length(0, len));
                self.0.push_front(buffer.slice(len));
                len = 0;
            }
        }
        Ok(taken)
    }
}

/// A whole stream as `FlightData`, encoded lazily batch by batch: the schema first (carrying
/// `descriptor`, if any), then the batches' messages.
pub(crate) struct FlightDataStream {
    encoder: Encoder,
    batches: std::vec::IntoIter<RecordBatch>,
    pending: VecDeque<Message>,
    descriptor: Option<FlightDescriptor>,
    finished: bool,
}

impl FlightDataStream {
    pub(crate) fn new(
        schema: &SchemaRef,
        batches: Vec<RecordBatch>,
        descriptor: Option<FlightDescriptor>,
    ) -> Result<FlightDataStream, ArrowError> {
        Ok(FlightDataStream {
            encoder: Encoder::new(schema)?,
            batches: batches.into_iter(),
            pending: VecDeque::new(),
            descriptor,
            finished: false,
        })
    }

    /// Cuts batches into messages of about `size` body bytes instead.
    pub(crate) fn with_message_size(mut self, size: usize) -> FlightDataStream {
        self.encoder.target_size = size;
        self
    }

    /// The next message, encoded on demand.
    pub(crate) fn next_message(&mut self) -> Option<Result<Message, ArrowError>> {
        loop {
            if let Some(message) = self.pending.pop_front() {
                return Some(Ok(message));
            }
            if self.finished {
                return None;
            }
            let more = match self.batches.next() {
                Some(batch) => self.encoder.encode(&batch),
                None => {
                    self.finished = true;
                    self.encoder.finish()
                }
            };
            match more {
                Ok(messages) => self.pending.extend(messages),
                Err(error) => {
                    self.finished = true;
                    return Some(Err(error));
                }
            }
        }
    }
}

impl Iterator for FlightDataStream {
    type Item = Result<FlightData, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let message = self.next_message()?;
        Some(message.map(|message| {
            let mut data = message.into_flight_data();
            data.flight_descriptor = self.descriptor.take();
            data
        }))
    }
}

/// A whole stream as `FlightData`, encoded at once.
#[cfg(test)]
pub(crate) fn flight_data(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    descriptor: Option<FlightDescriptor>,
) -> Result<Vec<FlightData>, ArrowError> {
    FlightDataStream::new(schema, batches.to_vec(), descriptor)?.collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, LargeListArray};
    use arrow::datatypes::Int32Type;
    use arrow_flight::decode::FlightRecordBatchStream;
    use futures::{stream, TryStreamExt};

    use super::*;

    async fn round_trip(schema: &SchemaRef, batches: &[RecordBatch]) -> Vec<RecordBatch> {
        let data = flight_data(schema, batches, None).unwrap();
        FlightRecordBatchStream::new_from_flight_data(stream::iter(data.into_iter().map(Ok)))
            .try_collect()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn large_lists_and_big_batches_round_trip() {
        let lists = LargeListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None]),
            None,
            Some(vec![]),
            Some(vec![Some(4)]),
        ]);
        let batch = RecordBatch::try_from_iter([("l", Arc::new(lists) as _)]).unwrap();
        assert_eq!(
            round_trip(&batch.schema(), std::slice::from_ref(&batch)).await,
            [batch]
        );

        let numbers = Int64Array::from_iter((0..1_000_000).map(|i| (i % 7 != 0).then_some(i)));
        let big = RecordBatch::try_from_iter([("x", Arc::new(numbers) as _)]).unwrap();
        let got = round_trip(&big.schema(), std::slice::from_ref(&big)).await;
        assert!(got.len() > 1);
        assert_eq!(
            arrow::compute::concat_batches(&big.schema(), &got).unwrap(),
            big
        );
    }

    #[tokio::test]
    async fn an_empty_stream_has_its_schema() {
        let batch =
            RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(Vec::<i64>::new())) as _)])
                .unwrap();
        let data = flight_data(&batch.schema(), &[], None).unwrap();
        assert_eq!(data.len(), 1);
        let mut decoded =
            FlightRecordBatchStream::new_from_flight_data(stream::iter(data.into_iter().map(Ok)));
        assert!(decoded.try_next().await.unwrap().is_none());
        assert_eq!(decoded.schema(), Some(&batch.schema()));
    }
}
