//! `do_put`: a stream of record batches becomes a `vineyard::Table` (or a blob).
//!
//! The first message's descriptor says what to make:
//! - none, or a path `[]`: a table;
//! - a path `[name]`: a table, persisted and named `name`;
//! - a command, JSON `{"kind": "table" | "blob", "name": ...}`: the same, or a blob holding
//!   the concatenated values of the stream's one binary column (blobs cannot be named).
//!
//! A table is written as the stream arrives: each record batch, once decoded, is copied into
//! blobs and created as a `vineyard::RecordBatch` on the blocking pool while the next one is
//! received (at most [`BATCHES_IN_FLIGHT`] wait between the two), and the table is created
//! when the stream ends complete. So a put holds a few batches, not its whole stream. Storing
//! is all or nothing: every object created on the way (blobs, columns, batches, schema,
//! table) is recorded by the instance client's write and deleted again if any step fails (the
//! store is full, the stream is malformed or cut, a name cannot be given, the client
//! cancels), so a failed put leaves nothing behind and the instance's memory usage where it
//! was. A blob put gathers its stream first (its size is fixed at creation).

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::ipc::{root_as_message, Field as IpcField, Message as IpcMessage, MessageHeader};
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::{FlightData, FlightDescriptor};
use futures::{stream, FutureExt, StreamExt, TryStreamExt};
use serde::Deserialize;
use vineyard_builders::{default_registry, family_of};
use vineyard_core::{IpcClient, ObjectID};

use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::limits::Limits;
use crate::target::parse_object_id;

/// What a `do_put` creates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PutKind {
    /// A `vineyard::Table` of the stream's batches.
    #[default]
    Table,
    /// One blob of the values of the stream's binary column.
    Blob,
}

/// A `do_put`'s descriptor, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutRequest {
    #[serde(default)]
    kind: PutKind,
    #[serde(default)]
    name: Option<String>,
}

impl PutRequest {
    pub(crate) fn from_descriptor(descriptor: Option<&FlightDescriptor>) -> Result<PutRequest> {
        let Some(descriptor) = descriptor else {
            return Ok(PutRequest::default());
        };
        let request = match descriptor.r#type() {
            DescriptorType::Path => match descriptor.path.as_slice() {
                [] => PutRequest::default(),
                [name] => PutRequest {
                    kind: PutKind::Table,
                    name: Some(name.clone()),
                },
                path => {
                    return Err(Error::invalid(format!(
                        "a do_put descriptor path holds at most one element (the name to give \
                         the table), got {}",
                        path.len()
                    )))
                }
            },
            DescriptorType::Cmd if descriptor.cmd.is_empty() => PutRequest::default(),
            DescriptorType::Cmd => serde_json::from_slice(&descriptor.cmd).map_err(|error| {
                Error::invalid(format!(
                    "a do_put descriptor command must be JSON {{\"kind\": \"table\" | \"blob\", \
                     \"name\": ...}}: {error}"
                ))
            })?,
            DescriptorType::Unknown => PutRequest::default(),
        };
        if let Some(name) = &request.name {
            if name.trim().is_empty() {
                return Err(Error::invalid("the name to give the table is empty"));
            }
            if parse_object_id(name).is_some() {
                return Err(Error::invalid(format!(
                    "`{name}` looks like an object id and cannot be used as a name"
                )));
            }
            if request.kind == PutKind::Blob {
                return Err(Error::invalid(
                    "blobs cannot be named (names need persisted objects): put a table instead",
                ));
            }
        }
        Ok(request)
    }
}

/// Decoded batches waiting for the writer at most; the decoder waits beyond (back-pressure
/// onto the client), so a put holds a few batches in memory, not its stream.
const BATCHES_IN_FLIGHT: usize = 2;

/// What the decoder hands the writer, in order: the schema, the batches, then the end.
enum Piece {
    Schema(SchemaRef),
    Batch(RecordBatch),
    /// The stream ended complete: the object may be created.
    End,
}

/// Stores the stream as it arrives (each batch written into the store when decoded, the
/// table created at the end); returns its id. A put that fails, is cut, or whose caller goes
/// away, leaves nothing behind.
pub(crate) async fn put<S>(
    instance: &Arc<Instance>,
    limits: Limits,
    mut messages: S,
) -> Result<ObjectID>
where
    S: futures::Stream<Item = Result<FlightData, tonic::Status>> + Send + Unpin + 'static,
{
    let first = messages
        .try_next()
        .await
        .map_err(|status| limits.incoming_error(status))?
        .ok_or_else(empty_stream)?;
    let request = PutRequest::from_descriptor(first.flight_descriptor.as_ref())?;
    let messages = stream::once(async { Ok(first) })
        .chain(messages.map_err(move |status| {
            FlightError::ExternalError(Box::new(limits.incoming_error(status)))
        }))
        .and_then(move |data| async move { check_message(&data, limits).map(|()| data) });
    let (pieces, received) = tokio::sync::mpsc::channel(BATCHES_IN_FLIGHT);
    // The IPC decoder trusts what the checks above cannot see; a panic in it is a bad stream.
    let decode = async move {
        match AssertUnwindSafe(decode(messages, pieces))
            .catch_unwind()
            .await
        {
            Ok(decoded) => decoded,
            Err(_) => Err(Error::Protocol {
                message: "malformed do_put stream, nothing was stored: the Arrow IPC decoder \
                          rejected a message"
                    .into(),
            }),
        }
    };
    let call = CallGuard::new(instance);
    let outcome = Arc::clone(&call.outcome);
    let writer = Arc::clone(instance);
    let write = async move {
        writer
            .run(move |client| {
                let stored = store(client, &request, received, &outcome);
                crate::heap::trim_after(stored.as_ref().map_or(0, |stored| stored.objects));
                stored.map(|stored| stored.id)
            })
            .await
    };
    // The decoder's error comes first: the writer only saw the stream stop.
    let (decoded, stored) = futures::join!(decode, write);
    call.handed_over();
    decoded?;
    stored
}

/// The refusal of a `do_put` stream without a single message.
pub(crate) fn empty_stream() -> Error {
    Error::invalid("the do_put stream is empty: send the schema message (with a descriptor) first")
}

/// Decodes the stream into pieces for the writer. Stops early, without error, when the
/// writer has stopped (its error is the put's); an error here drops `pieces` without `End`,
/// which makes the writer roll back.
async fn decode<S>(messages: S, pieces: tokio::sync::mpsc::Sender<Piece>) -> Result<()>
where
    S: futures::Stream<Item = Result<FlightData, FlightError>> + Send + 'static,
{
    let mut decoded = FlightRecordBatchStream::new_from_flight_data(messages);
    let mut schema_sent = false;
    while let Some(batch) = decoded.try_next().await.map_err(malformed)? {
        if !schema_sent {
            schema_sent = true;
            if pieces.send(Piece::Schema(batch.schema())).await.is_err() {
                return Ok(());
            }
        }
        if pieces.send(Piece::Batch(batch)).await.is_err() {
            return Ok(());
        }
    }
    if !schema_sent {
        let schema = decoded.schema().cloned().ok_or_else(|| {
            Error::invalid("the do_put stream carried no schema message: nothing was stored")
        })?;
        if pieces.send(Piece::Schema(schema)).await.is_err() {
            return Ok(());
        }
    }
    let _ = pieces.send(Piece::End).await;
    Ok(())
}

/// Checks a message before the IPC decoder sees it: the column count of the schema, and the
/// bounds of every buffer.
fn check_message(data: &FlightData, limits: Limits) -> Result<(), FlightError> {
    if data.data_header.is_empty() {
        return Ok(());
    }
    let message = root_as_message(&data.data_header)
        .map_err(|error| FlightError::DecodeError(format!("unreadable IPC header: {error}")))?;
    if let Some(schema) = message.header_as_schema() {
        let columns = schema
            .fields()
            .map_or(0, |fields| count_fields(fields.iter()));
        return limits
            .check_columns(columns)
            .map_err(|error| FlightError::ExternalError(Box::new(error)));
    }
    check_body(data, &message)
}

/// Fields at every depth (a struct column counts once, plus its children).
fn count_fields<'a>(fields: impl Iterator<Item = IpcField<'a>>) -> usize {
    fields
        .map(|field| {
            1 + field
                .children()
                .map_or(0, |children| count_fields(children.iter()))
        })
        .sum()
}

/// Checks that every buffer a record batch or dictionary header announces lies inside the
/// message's body (the IPC decoder would index past it).
fn check_body(data: &FlightData, message: &IpcMessage<'_>) -> Result<(), FlightError> {
    let batch = match message.header_type() {
        MessageHeader::RecordBatch => message.header_as_record_batch(),
        MessageHeader::DictionaryBatch => message
            .header_as_dictionary_batch()
            .and_then(|dictionary| dictionary.data()),
        _ => return Ok(()),
    };
    let body = data.data_body.len() as i64;
    if message.bodyLength() > body {
        return Err(FlightError::DecodeError(format!(
            "the header announces a body of {} bytes, the message carries {body}",
            message.bodyLength()
        )));
    }
    for buffer in batch
        .and_then(|batch| batch.buffers())
        .into_iter()
        .flatten()
    {
        let end = buffer.offset().checked_add(buffer.length());
        if buffer.offset() < 0 || buffer.length() < 0 || !matches!(end, Some(end) if end <= body) {
            return Err(FlightError::DecodeError(format!(
                "a buffer at offset {} of {} bytes lies outside the {body}-byte body",
                buffer.offset(),
                buffer.length()
            )));
        }
    }
    Ok(())
}

fn malformed(error: FlightError) -> Error {
    match error {
        // The client's own stream failed (e.g. cancelled): pass its status on.
        FlightError::Tonic(status) => Error::from(*status),
        // Refused by a check of ours (a limit, or the stream's own error): as it was said.
        FlightError::ExternalError(error) => match error.downcast::<Error>() {
            Ok(error) => *error,
            Err(other) => Error::Protocol {
                message: format!("malformed do_put stream, nothing was stored: {other}"),
            },
        },
        other => Error::Protocol {
            message: format!("malformed do_put stream, nothing was stored: {other}"),
        },
    }
}

/// How a put stands for its caller: whether the caller went away, and the object stored.
#[derive(Debug, Default)]
struct Outcome {
    /// The `do_put` call was dropped (the client cancelled or disconnected).
    cancelled: bool,
    /// The object the put stored, until its id is handed to the caller.
    stored: Option<ObjectID>,
}

type SharedOutcome = Arc<Mutex<Outcome>>;

fn lock(outcome: &SharedOutcome) -> std::sync::MutexGuard<'_, Outcome> {
    outcome.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Fails once the caller has gone away: what was stored so far is then rolled back.
fn check_wanted(outcome: &SharedOutcome) -> Result<()> {
    check_wanted_locked(&lock(outcome))
}

/// Held by the `do_put` call while the store runs on the blocking pool. Dropped before the id
/// is handed over (tonic drops the call when the client cancels or disconnects), it stops the
/// store, which then rolls back; an object already stored is deleted.
struct CallGuard {
    instance: Arc<Instance>,
    outcome: SharedOutcome,
    waiting: bool,
}

impl CallGuard {
    fn new(instance: &Arc<Instance>) -> CallGuard {
        CallGuard {
            instance: Arc::clone(instance),
            outcome: SharedOutcome::default(),
            waiting: true,
        }
    }

    /// The store's outcome reached the caller: the object is theirs.
    fn handed_over(mut self) {
        lock(&self.outcome).stored = None;
        self.waiting = false;
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.waiting {
            return;
        }
        let stored = {
            let mut outcome = lock(&self.outcome);
            outcome.cancelled = true;
            outcome.stored.take()
        };
        let (Some(id), Ok(runtime)) = (stored, tokio::runtime::Handle::try_current()) else {
            return;
        };
        let instance = Arc::clone(&self.instance);
        runtime.spawn(async move {
            let deleted = instance
                .run(move |client| Ok(client.delete(&[id], true, true)?))
                .await;
            if let Err(error) = deleted {
                tracing::warn!(%id, %error, "cannot delete the object of a cancelled do_put");
            }
        });
    }
}

/// What a put stored: the object, and how many objects it created on the way.
struct Stored {
    id: ObjectID,
    objects: usize,
}

/// The next piece from the decoder; the decoder gone without `End` is a cut stream.
fn next_piece(pieces: &mut tokio::sync::mpsc::Receiver<Piece>) -> Result<Piece> {
    pieces.blocking_recv().ok_or_else(|| {
        Error::invalid("the do_put stream stopped before its end: nothing was stored")
    })
}

/// The stream's schema: the first piece.
fn first_schema(pieces: &mut tokio::sync::mpsc::Receiver<Piece>) -> Result<SchemaRef> {
    match next_piece(pieces)? {
        Piece::Schema(schema) => Ok(schema),
        _ => Err(Error::Protocol {
            message: "the do_put decoder sent a batch before the schema".into(),
        }),
    }
}

/// Stores the put's object as one all-or-nothing write of the instance client: whatever step
/// fails (a batch that does not fit, the table, the name, a cut stream, a cancel), everything
/// the put created is deleted before the error is returned.
fn store(
    client: &IpcClient,
    request: &PutRequest,
    mut pieces: tokio::sync::mpsc::Receiver<Piece>,
    outcome: &SharedOutcome,
) -> Result<Stored> {
    let mut failure = None;
    let mut objects = 0;
    let stored = client.all_or_nothing(|client| {
        let id = match request.kind {
            PutKind::Blob => store_blob(client, &mut pieces),
            PutKind::Table => store_table(client, &mut pieces, outcome, &mut objects),
        }
        .and_then(|id| {
            if let Some(name) = &request.name {
                client.persist(id)?;
                client.put_name(id, name)?;
            }
            let mut outcome = lock(outcome);
            check_wanted_locked(&outcome)?;
            outcome.stored = Some(id);
            Ok(id)
        });
        // The write needs a core error to roll back; the put's own error is kept for the
        // caller.
        id.map_err(|error| {
            let rolled_back = vineyard_core::Error::invalid(error.to_string());
            failure = Some(error);
            rolled_back
        })
    });
    match (stored, failure) {
        (Ok(id), _) => Ok(Stored { id, objects }),
        (Err(_), Some(error)) => Err(error),
        (Err(error), None) => Err(error.into()),
    }
}

/// [`check_wanted`] under a lock the caller holds.
fn check_wanted_locked(outcome: &Outcome) -> Result<()> {
    if outcome.cancelled {
        return Err(Error::invalid(
            "the do_put call was cancelled by the client: nothing was stored",
        ));
    }
    Ok(())
}

/// Stores each batch as it arrives (its columns and its `vineyard::RecordBatch`), then the
/// table over them; `objects` counts what was created.
fn store_table(
    client: &IpcClient,
    pieces: &mut tokio::sync::mpsc::Receiver<Piece>,
    outcome: &SharedOutcome,
    objects: &mut usize,
) -> Result<ObjectID> {
    let schema = first_schema(pieces)?;
    check_buildable(&schema)?;
    let mut table = default_registry().table_writer(client, &schema)?;
    loop {
        match next_piece(pieces)? {
            Piece::Batch(batch) => {
                check_wanted(outcome)?;
                table.push(client, &batch)?;
                *objects += batch.num_columns() + 1;
            }
            Piece::End => break,
            Piece::Schema(_) => {
                return Err(Error::Protocol {
                    message: "the do_put decoder sent a second schema".into(),
                })
            }
        }
    }
    check_wanted(outcome)?;
    let table = table.finish(client)?;
    table.id().ok_or_else(|| Error::Protocol {
        message: "the instance created the table but returned no id".into(),
    })
}

/// Fails, before anything is stored, if a type anywhere in the schema has no builder (a
/// nested one would otherwise fail after its parent's buffers were written).
fn check_buildable(schema: &SchemaRef) -> Result<()> {
    fn check(data_type: &DataType, families: &[&str]) -> Result<()> {
        let family = family_of(data_type);
        if !families.contains(&family) {
            return Err(vineyard_builders::Error::UnsupportedType {
                data_type: data_type.clone(),
                family,
            }
            .into());
        }
        match data_type {
            DataType::List(child)
            | DataType::LargeList(child)
            | DataType::ListView(child)
            | DataType::LargeListView(child)
            | DataType::FixedSizeList(child, _)
            | DataType::Map(child, _) => check(child.data_type(), families),
            DataType::Struct(children) => children
                .iter()
                .try_for_each(|child| check(child.data_type(), families)),
            DataType::Dictionary(keys, values) => {
                check(keys, families)?;
                check(values, families)
            }
            DataType::RunEndEncoded(ends, values) => {
                check(ends.data_type(), families)?;
                check(values.data_type(), families)
            }
            DataType::Union(fields, _) => fields
                .iter()
                .try_for_each(|(_, child)| check(child.data_type(), families)),
            _ => Ok(()),
        }
    }
    let families: Vec<&str> = default_registry().families().collect();
    schema
        .fields()
        .iter()
        .try_for_each(|field| check(field.data_type(), &families))
}

/// Stores the values of the stream's one binary column, concatenated, as one blob. A blob's
/// size is fixed when it is created, so the batches are gathered first (a blob put holds its
/// stream; tables are written as they arrive).
fn store_blob(
    client: &IpcClient,
    pieces: &mut tokio::sync::mpsc::Receiver<Piece>,
) -> Result<ObjectID> {
    let schema = first_schema(pieces)?;
    let [field] = schema.fields().as_ref() else {
        return Err(blob_schema_error(&schema));
    };
    if !matches!(field.data_type(), DataType::Binary | DataType::LargeBinary) {
        return Err(blob_schema_error(&schema));
    }
    let mut batches = Vec::new();
    loop {
        match next_piece(pieces)? {
            Piece::Batch(batch) => batches.push(batch),
            Piece::End => break,
            Piece::Schema(_) => {
                return Err(Error::Protocol {
                    message: "the do_put decoder sent a second schema".into(),
                })
            }
        }
    }
    let size: usize = batches.iter().flat_map(values).map(<[u8]>::len).sum();
    let mut writer = client.create_blob(size)?;
    let mut offset = 0;
    for batch in &batches {
        for value in values(batch) {
            writer[offset..offset + value.len()].copy_from_slice(value);
            offset += value.len();
        }
    }
    Ok(writer.seal()?)
}

/// The non-null values of a batch's first (binary) column.
fn values(batch: &RecordBatch) -> Vec<&[u8]> {
    let column = batch.column(0);
    match column.data_type() {
        DataType::Binary => column.as_binary::<i32>().iter().flatten().collect(),
        _ => column.as_binary::<i64>().iter().flatten().collect(),
    }
}

fn blob_schema_error(schema: &SchemaRef) -> Error {
    Error::invalid(format!(
        "a blob is put as one binary column whose values are concatenated, got the schema {schema}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors() {
        assert_eq!(
            PutRequest::from_descriptor(None).unwrap(),
            PutRequest::default()
        );
        let named = FlightDescriptor::new_path(vec!["sales".into()]);
        assert_eq!(
            PutRequest::from_descriptor(Some(&named)).unwrap().name,
            Some("sales".into())
        );
        let blob = FlightDescriptor::new_cmd(r#"{"kind": "blob"}"#);
        assert_eq!(
            PutRequest::from_descriptor(Some(&blob)).unwrap().kind,
            PutKind::Blob
        );
        for bad in [
            FlightDescriptor::new_path(vec!["a".into(), "b".into()]),
            FlightDescriptor::new_path(vec!["o0000000000000001".into()]),
            FlightDescriptor::new_cmd(r#"{"kind": "blob", "name": "x"}"#),
            FlightDescriptor::new_cmd("not json"),
        ] {
            assert!(PutRequest::from_descriptor(Some(&bad)).is_err(), "{bad:?}");
        }
    }
}
