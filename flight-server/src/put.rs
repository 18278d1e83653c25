//! `do_put`: a stream of record batches becomes a `vineyard::Table` (or a blob).
//!
//! The first message's descriptor says what to make:
//! - none, or a path `[]`: a table;
//! - a path `[name]`: a table, persisted and named `name`;
//! - a command, JSON `{"kind": "table" | "blob", "name": ...}`: the same, or a blob holding
//!   the concatenated values of the stream's one binary column (blobs cannot be named).
//!
//! The whole stream is read and checked before anything is created in the instance, and a
//! table whose naming fails is deleted again: a failed put leaves nothing behind.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::ipc::{root_as_message, MessageHeader};
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::{FlightData, FlightDescriptor};
use futures::{stream, FutureExt, StreamExt, TryStreamExt};
use serde::Deserialize;
use vineyard_core::{IpcClient, ObjectID};

use crate::error::{Error, Result};
use crate::instance::Instance;
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

/// Reads the whole stream, then creates the object; returns its id.
pub(crate) async fn put<S>(instance: &Arc<Instance>, mut messages: S) -> Result<ObjectID>
where
    S: futures::Stream<Item = Result<FlightData, tonic::Status>> + Send + Unpin + 'static,
{
    let first = messages.try_next().await?.ok_or_else(|| {
        Error::invalid(
            "the do_put stream is empty: send the schema message (with a descriptor) first",
        )
    })?;
    let request = PutRequest::from_descriptor(first.flight_descriptor.as_ref())?;
    let messages = stream::once(async { Ok(first) })
        .chain(messages.map_err(FlightError::from))
        .and_then(|data| async move { check_body(&data).map(|()| data) });
    let decode = async move {
        let mut decoded = FlightRecordBatchStream::new_from_flight_data(messages);
        let mut batches = Vec::new();
        while let Some(batch) = decoded.try_next().await.map_err(malformed)? {
            batches.push(batch);
        }
        let schema = decoded.schema().cloned().ok_or_else(|| {
            Error::invalid("the do_put stream carried no schema message: nothing was stored")
        })?;
        Ok::<_, Error>((schema, batches))
    };
    // The IPC decoder trusts what the checks above cannot see; a panic in it is a bad stream.
    let (schema, batches) = AssertUnwindSafe(decode)
        .catch_unwind()
        .await
        .map_err(|_| Error::Protocol {
            message: "malformed do_put stream, nothing was stored: the Arrow IPC decoder \
                      rejected a message"
                .into(),
        })??;
    instance
        .run(move |client| store(client, &request, &schema, &batches))
        .await
}

/// Checks that every buffer a record batch or dictionary header announces lies inside the
/// message's body (the IPC decoder would index past it).
fn check_body(data: &FlightData) -> Result<(), FlightError> {
    if data.data_header.is_empty() {
        return Ok(());
    }
    let message = root_as_message(&data.data_header)
        .map_err(|error| FlightError::DecodeError(format!("unreadable IPC header: {error}")))?;
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
        other => Error::Protocol {
            message: format!("malformed do_put stream, nothing was stored: {other}"),
        },
    }
}

fn store(
    client: &IpcClient,
    request: &PutRequest,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<ObjectID> {
    match request.kind {
        PutKind::Blob => store_blob(client, schema, batches),
        PutKind::Table => {
            let meta = vineyard_builders::put_table(client, schema, batches)?;
            let id = meta.id().ok_or_else(|| Error::Protocol {
                message: "the instance stored the table but returned no id".into(),
            })?;
            if let Some(name) = &request.name {
                let named = client.persist(id).and_then(|()| client.put_name(id, name));
                if let Err(error) = named {
                    // Best effort: the error that matters is the naming one.
                    let _ = client.delete(&[id], true, true);
                    return Err(error.into());
                }
            }
            Ok(id)
        }
    }
}

fn store_blob(client: &IpcClient, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<ObjectID> {
    let [field] = schema.fields().as_ref() else {
        return Err(blob_schema_error(schema));
    };
    if !matches!(field.data_type(), DataType::Binary | DataType::LargeBinary) {
        return Err(blob_schema_error(schema));
    }
    let size: usize = batches.iter().flat_map(values).map(<[u8]>::len).sum();
    let mut writer = client.create_blob(size)?;
    let mut offset = 0;
    for batch in batches {
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
