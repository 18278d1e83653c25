//! Objects as flights: an object read as an Arrow schema plus record batches over the shared
//! memory, and the `FlightInfo` that describes it.
//!
//! A blob reads as one binary column `value` whose rows, in order, are its bytes cut into
//! chunks of [`BLOB_CHUNK`] (a blob of any size streams in messages gRPC clients accept by
//! default; an empty blob is one empty row), or of the size its ticket asks for.

use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, RecordBatch};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::{FlightDescriptor, FlightEndpoint, FlightInfo, Ticket};
use serde_json::json;
use vineyard_core::{Blob, IpcClient, ObjectID, ObjectMeta};
use vineyard_resolvers::Resolved;

use crate::error::{Error, Result};
use crate::target::BLOB_PREFIX;

/// Bytes of a blob per row (and per message) when a blob is streamed.
pub(crate) const BLOB_CHUNK: usize = 2 << 20;

/// An object read for streaming: its metadata, schema and batches (over the shared memory).
pub(crate) struct ObjectData {
    pub(crate) meta: ObjectMeta,
    pub(crate) schema: SchemaRef,
    pub(crate) batches: Vec<RecordBatch>,
}

impl ObjectData {
    /// Rows in all batches.
    pub(crate) fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The payload's size: the object's `nbytes`, or what its batches occupy.
    pub(crate) fn bytes(&self) -> u64 {
        match self.meta.nbytes() {
            0 => self
                .batches
                .iter()
                .map(|batch| batch.get_array_memory_size() as u64)
                .sum(),
            nbytes => nbytes,
        }
    }
}

/// Reads object `id` as record batches, without copying its payload.
pub(crate) fn read(client: &IpcClient, id: ObjectID) -> Result<ObjectData> {
    if id.is_blob() {
        return read_blob(client, id, BLOB_CHUNK);
    }
    let meta = client.get_metadata(id)?;
    read_meta(client, meta)
}

/// Reads an object whose metadata is at hand.
pub(crate) fn read_meta(client: &IpcClient, meta: ObjectMeta) -> Result<ObjectData> {
    let not_arrow = |meta: &ObjectMeta, source| Error::NotArrow {
        id: meta.id().unwrap_or_default(),
        typename: meta.typename().unwrap_or("(none)").to_string(),
        source,
    };
    let resolved = vineyard_resolvers::resolve(client, &meta).map_err(|e| not_arrow(&meta, e))?;
    let (schema, batches) = match resolved {
        Resolved::Blob(blob) => blob_batches(blob, BLOB_CHUNK)?,
        other => vineyard_resolvers::to_record_batches(other).map_err(|e| not_arrow(&meta, e))?,
    };
    Ok(ObjectData {
        meta,
        schema,
        batches,
    })
}

/// Reads a blob's bytes as binary rows of `chunk` bytes (the last one shorter).
pub(crate) fn read_blob(client: &IpcClient, id: ObjectID, chunk: usize) -> Result<ObjectData> {
    let blob = client.get_blob(id)?;
    let mut meta = ObjectMeta::with_typename(vineyard_core::meta::BLOB_TYPENAME);
    meta.set_id(id);
    meta.set_instance_id(client.instance_id());
    meta.set_nbytes(blob.size() as u64);
    meta.insert("length", blob.size() as u64);
    let (schema, batches) = blob_batches(blob, chunk)?;
    Ok(ObjectData {
        meta,
        schema,
        batches,
    })
}

/// The schema blobs stream with.
pub(crate) fn blob_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "value",
        DataType::Binary,
        false,
    )]))
}

fn blob_batches(blob: Blob, chunk: usize) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let size = blob.size();
    let schema = blob_schema();
    let bytes = Buffer::from(bytes::Bytes::from_owner(blob));
    let chunk = chunk.max(1);
    let mut batches = Vec::with_capacity(size.div_ceil(chunk).max(1));
    let mut start = 0;
    loop {
        let length = (size - start).min(chunk);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(vec![0i32, length as i32]));
        let values = bytes.slice_with_length(start, length);
        let column: ArrayRef = Arc::new(BinaryArray::try_new(offsets, values, None)?);
        batches.push(RecordBatch::try_new(Arc::clone(&schema), vec![column])?);
        start += length;
        if start >= size {
            break;
        }
    }
    Ok((schema, batches))
}

/// The flight that serves `data`, described under `label` (the id or name asked for).
pub(crate) fn flight_info(label: &str, data: &ObjectData) -> Result<FlightInfo> {
    described(
        label,
        &data.meta,
        &data.schema,
        data.rows() as u64,
        data.bytes(),
    )
}

/// A flight from an object's tree and what its data holds.
fn described(
    label: &str,
    meta: &ObjectMeta,
    schema: &SchemaRef,
    rows: u64,
    bytes: u64,
) -> Result<FlightInfo> {
    let id = meta.id().unwrap_or_default();
    let ticket = if id.is_blob() {
        format!("{BLOB_PREFIX}{id}")
    } else {
        id.to_string()
    };
    let app_metadata = json!({
        "id": id.to_string(),
        "typename": meta.typename(),
        "instance_id": meta.instance_id(),
    });
    Ok(FlightInfo::new()
        .try_with_schema(schema)?
        .with_descriptor(FlightDescriptor::new_path(vec![label.to_string()]))
        .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
        .with_total_records(rows as i64)
        .with_total_bytes(bytes as i64)
        .with_ordered(true)
        .with_app_metadata(app_metadata.to_string()))
}

/// What `list_flights` is asked to list: objects whose typename matches a glob, or named
/// objects whose name matches one (`name:<glob>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Criteria {
    Typename(String),
    Name(String),
}

/// Most flights one `list_flights` call describes.
pub(crate) const LIST_LIMIT: usize = 10_000;

impl Criteria {
    pub(crate) fn parse(expression: &[u8]) -> Result<Criteria> {
        let text = std::str::from_utf8(expression)
            .map_err(|_| {
                Error::invalid(
                    "list_flights criteria must be UTF-8 text: a typename glob \
                     (e.g. `vineyard::Table*`) or `name:<glob>`",
                )
            })?
            .trim();
        Ok(match text.strip_prefix("name:") {
            Some(glob) if glob.trim().is_empty() => Criteria::Name("*".into()),
            Some(glob) => Criteria::Name(glob.trim().to_string()),
            None if text.is_empty() => Criteria::Typename("*".into()),
            None => Criteria::Typename(text.to_string()),
        })
    }

    /// Every flight matching, described; objects that are not Arrow-shaped are left out, and
    /// so are blobs unless the glob asks for blobs by name.
    pub(crate) fn list(&self, client: &IpcClient) -> Result<Vec<FlightInfo>> {
        let mut infos = Vec::new();
        match self {
            Criteria::Typename(glob) => {
                let with_blobs = glob.contains("Blob");
                for meta in client.list_metadatas(glob, false, LIST_LIMIT)? {
                    if meta.is_blob() && !with_blobs {
                        continue;
                    }
                    let label = meta.id().unwrap_or_default().to_string();
                    if let Some(info) = describe(client, &label, meta) {
                        infos.push(info);
                    }
                }
            }
            Criteria::Name(glob) => {
                for (name, id) in client.list_names(glob, false, LIST_LIMIT)? {
                    let Ok(meta) = client.get_metadata(id) else {
                        continue;
                    };
                    if let Some(info) = describe(client, &name, meta) {
                        infos.push(info);
                    }
                }
            }
        }
        Ok(infos)
    }
}

fn describe(client: &IpcClient, label: &str, meta: ObjectMeta) -> Option<FlightInfo> {
    // Tables and record batches are described from their trees: listing many of them
    // resolves none.
    if let Ok(Some((schema, rows))) = vineyard_resolvers::table_shape(client, &meta) {
        if let Ok(info) = described(label, &meta, &schema, rows, meta.nbytes()) {
            return Some(info);
        }
    }
    let data = if meta.is_blob() {
        read_blob(client, meta.id()?, BLOB_CHUNK)
    } else {
        read_meta(client, meta)
    };
    match data.and_then(|data| flight_info(label, &data)) {
        Ok(info) => Some(info),
        Err(error) => {
            tracing::debug!(%label, %error, "not listed as a flight");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria() {
        assert_eq!(
            Criteria::parse(b"").unwrap(),
            Criteria::Typename("*".into())
        );
        assert_eq!(
            Criteria::parse(b"vineyard::Table*").unwrap(),
            Criteria::Typename("vineyard::Table*".into())
        );
        assert_eq!(
            Criteria::parse(b"name:tab*").unwrap(),
            Criteria::Name("tab*".into())
        );
        assert!(Criteria::parse(&[0xff]).is_err());
    }
}
