//! `do_put` of whole objects: every blob a client's put created and every metadata tree, in
//! one stream, stored all or nothing. This is how remote clients put values of any type (the
//! same builders as on IPC, their blobs written here instead of in shared memory).
//!
//! The first message's descriptor is a JSON command:
//!
//! ```json
//! {"kind": "objects",
//!  "blobs": [{"id": P, "size": N}, ...],
//!  "objects": [{"id": P, "tree": {...}}, ...]}
//! ```
//!
//! `P` are the client's provisional ids (numbers or `o...` text; a blob's has bit 63 set):
//! its trees name new members by them, and they are replaced by the ids the instance gives.
//! Objects come members first. The stream's record batches carry the blobs' bytes as chunks,
//! one row each: `blob` (uint32, the blob's index in `blobs`), `offset` (uint64, which must
//! continue the blob's previous chunk), `data` (binary). The one `PutResult` carries JSON
//! `{"ids": {"o<provisional>": "o<id>", ...}}`.
//!
//! The blobs are allocated when the descriptor arrives and written as chunks arrive (one copy,
//! from the message into the shared memory). When the stream ends complete, the blobs are
//! sealed and the trees created in one all-or-nothing write; a stream that breaks, lies, or is
//! cancelled, and a tree the instance refuses, leave nothing behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, RecordBatch, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type, UInt64Type};
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::{FlightData, FlightDescriptor};
use futures::{stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vineyard_core::{BlobWriter, IpcClient, ObjectID, ObjectMeta};

use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::limits::Limits;

/// The `kind` of the descriptor command that asks for this put.
pub(crate) const KIND: &str = "objects";

/// Blobs or objects one put may create.
pub(crate) const MAX_ENTRIES: usize = 1 << 20;

/// A new blob: its provisional id and size.
#[derive(Clone, Debug, Deserialize)]
struct NewBlob {
    #[serde(deserialize_with = "provisional")]
    id: u64,
    size: usize,
}

/// A new object: its provisional id and tree.
#[derive(Clone, Debug, Deserialize)]
struct NewObject {
    #[serde(deserialize_with = "provisional")]
    id: u64,
    tree: Map<String, Value>,
}

/// What the descriptor asks for.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Plan {
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    blobs: Vec<NewBlob>,
    #[serde(default)]
    objects: Vec<NewObject>,
}

fn provisional<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    id_of(&Value::deserialize(deserializer)?)
        .ok_or_else(|| serde::de::Error::custom("an id is a number or `o` and 16 hex digits"))
}

/// An id given as a number or as `o...` text.
fn id_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.parse::<ObjectID>().ok().map(|id| id.0),
        _ => None,
    }
}

impl Plan {
    /// The plan a descriptor holds, if it asks for an objects put (a JSON command whose
    /// `kind` is `objects`); `None` for every other put.
    pub(crate) fn from_descriptor(descriptor: Option<&FlightDescriptor>) -> Result<Option<Plan>> {
        let Some(descriptor) = descriptor else {
            return Ok(None);
        };
        if descriptor.r#type() != DescriptorType::Cmd {
            return Ok(None);
        }
        let Ok(Value::Object(command)) = serde_json::from_slice::<Value>(&descriptor.cmd) else {
            return Ok(None);
        };
        if command.get("kind").and_then(Value::as_str) != Some(KIND) {
            return Ok(None);
        }
        let plan: Plan = serde_json::from_value(Value::Object(command)).map_err(|error| {
            Error::invalid(format!(
                "a do_put of objects needs {{\"kind\": \"objects\", \"blobs\": [{{\"id\", \
                 \"size\"}}], \"objects\": [{{\"id\", \"tree\"}}]}}: {error}"
            ))
        })?;
        plan.check()?;
        Ok(Some(plan))
    }

    fn check(&self) -> Result<()> {
        if self.blobs.len() > MAX_ENTRIES || self.objects.len() > MAX_ENTRIES {
            return Err(Error::invalid(format!(
                "a do_put of objects creates at most {MAX_ENTRIES} blobs and as many objects; \
                 put the value in parts"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for blob in &self.blobs {
            if ObjectID(blob.id).is_blob() {
                if !seen.insert(blob.id) {
                    return Err(Error::invalid(format!(
                        "blob {} is given twice",
                        ObjectID(blob.id)
                    )));
                }
            } else {
                return Err(Error::invalid(format!(
                    "the provisional id {} of a blob must have bit 63 set",
                    ObjectID(blob.id)
                )));
            }
        }
        for object in &self.objects {
            if ObjectID(object.id).is_blob() || !seen.insert(object.id) {
                return Err(Error::invalid(format!(
                    "the provisional id {} of an object is a blob's or given twice",
                    ObjectID(object.id)
                )));
            }
        }
        Ok(())
    }
}

/// How the put stands for its caller: whether it went away, and what was stored.
#[derive(Debug, Default)]
struct Outcome {
    cancelled: bool,
    stored: Vec<ObjectID>,
}

/// Deletes what was stored if the call is dropped before the ids reach the caller.
struct CallGuard {
    instance: Arc<Instance>,
    outcome: Arc<Mutex<Outcome>>,
    waiting: bool,
}

fn lock(outcome: &Mutex<Outcome>) -> std::sync::MutexGuard<'_, Outcome> {
    outcome.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.waiting {
            return;
        }
        let stored = {
            let mut outcome = lock(&self.outcome);
            outcome.cancelled = true;
            std::mem::take(&mut outcome.stored)
        };
        let (false, Ok(runtime)) = (stored.is_empty(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let instance = Arc::clone(&self.instance);
        runtime.spawn(async move {
            let deleted = instance
                .run(move |client| Ok(client.delete(&stored, true, true)?))
                .await;
            if let Err(error) = deleted {
                tracing::warn!(%error, "cannot delete the objects of a cancelled do_put");
            }
        });
    }
}

/// Receives the blobs' bytes, then creates everything; returns the result's JSON.
pub(crate) async fn put<S>(
    instance: &Arc<Instance>,
    limits: Limits,
    plan: Plan,
    first: FlightData,
    rest: S,
) -> Result<Value>
where
    S: futures::Stream<Item = Result<FlightData, tonic::Status>> + Send + Unpin + 'static,
{
    let client = instance.lease().await?;
    let sizes: Vec<usize> = plan.blobs.iter().map(|blob| blob.size).collect();
    let allocating = client.clone();
    let writers = tokio::task::spawn_blocking(move || {
        sizes
            .into_iter()
            .map(|size| allocating.create_blob(size).map_err(Error::from))
            .collect::<Result<Vec<BlobWriter>>>()
    })
    .await
    .map_err(|error| Error::Protocol {
        message: format!("allocating the put's blobs failed unexpectedly: {error}"),
    })??;
    let mut receiving = Receiving {
        writers,
        received: vec![0; plan.blobs.len()],
    };
    let messages = stream::iter([Ok(first)])
        .chain(rest)
        .map_err(move |status| FlightError::ExternalError(Box::new(limits.incoming_error(status))));
    let mut batches = FlightRecordBatchStream::new_from_flight_data(messages);
    while let Some(batch) = batches.try_next().await.map_err(malformed)? {
        receiving.write(&batch)?;
    }
    receiving.check_complete()?;
    let guard = CallGuard {
        instance: Arc::clone(instance),
        outcome: Arc::default(),
        waiting: true,
    };
    let outcome = Arc::clone(&guard.outcome);
    let writers = receiving.writers;
    let stored = tokio::task::spawn_blocking(move || store(&client, &plan, writers, &outcome))
        .await
        .map_err(|error| Error::Protocol {
            message: format!("storing the put failed unexpectedly: {error}"),
        })?;
    let mut guard = guard;
    let result = stored?;
    lock(&guard.outcome).stored.clear();
    guard.waiting = false;
    Ok(result)
}

/// The blobs being written and how much of each has arrived.
struct Receiving {
    writers: Vec<BlobWriter>,
    received: Vec<usize>,
}

impl Receiving {
    /// Writes the chunks of one record batch.
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let wrong = || {
            Error::invalid(
                "the chunks of a do_put of objects are rows (blob: uint32, offset: uint64, \
                 data: binary)",
            )
        };
        if batch.num_columns() != 3 {
            return Err(wrong());
        }
        let blobs = batch
            .column(0)
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(wrong)?;
        let offsets = batch
            .column(1)
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(wrong)?;
        let data = batch.column(2).as_binary_opt::<i32>().ok_or_else(wrong)?;
        for row in 0..batch.num_rows() {
            if blobs.is_null(row) || offsets.is_null(row) || data.is_null(row) {
                return Err(Error::invalid("a chunk of a do_put of objects has a null"));
            }
            let index = blobs.value(row) as usize;
            let offset = offsets.value(row);
            let bytes = data.value(row);
            let Some(writer) = self.writers.get_mut(index) else {
                return Err(Error::invalid(format!(
                    "a chunk names blob {index}, but the put has {} blobs",
                    self.received.len()
                )));
            };
            let at = self.received[index];
            if offset != at as u64 || at + bytes.len() > writer.size() {
                return Err(Error::invalid(format!(
                    "a chunk of {} bytes at offset {offset} of blob {index} ({} bytes, {at} \
                     received): chunks come in order and within the blob",
                    bytes.len(),
                    writer.size()
                )));
            }
            writer[at..at + bytes.len()].copy_from_slice(bytes);
            self.received[index] = at + bytes.len();
        }
        Ok(())
    }

    fn check_complete(&self) -> Result<()> {
        for (index, (writer, received)) in self.writers.iter().zip(&self.received).enumerate() {
            if *received != writer.size() {
                return Err(Error::invalid(format!(
                    "the do_put stream ended with {received} of the {} bytes of blob {index}: \
                     nothing was stored",
                    writer.size()
                )));
            }
        }
        Ok(())
    }
}

fn malformed(error: FlightError) -> Error {
    match error {
        FlightError::Tonic(status) => Error::from(*status),
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

/// Seals the blobs and creates the trees, all or nothing; the ids by provisional id.
fn store(
    client: &IpcClient,
    plan: &Plan,
    writers: Vec<BlobWriter>,
    outcome: &Mutex<Outcome>,
) -> Result<Value> {
    let mut failure = None;
    let stored = client.all_or_nothing(|client| {
        let mut ids: HashMap<u64, ObjectID> =
            HashMap::with_capacity(writers.len() + plan.objects.len());
        let result = (|| {
            for (blob, writer) in plan.blobs.iter().zip(writers) {
                ids.insert(blob.id, writer.seal()?);
            }
            for object in &plan.objects {
                let mut tree = object.tree.clone();
                for assigned in ["id", "signature"] {
                    tree.remove(assigned);
                }
                for value in tree.values_mut() {
                    replace_ids(value, &ids);
                }
                let created =
                    client.create_metadata(&ObjectMeta::from_json(Value::Object(tree))?)?;
                let id = created.id().ok_or_else(|| Error::Protocol {
                    message: "the instance created an object without an id".into(),
                })?;
                ids.insert(object.id, id);
            }
            let mut outcome = lock(outcome);
            if outcome.cancelled {
                return Err(Error::invalid(
                    "the client cancelled the put: nothing was stored",
                ));
            }
            outcome.stored = ids.values().copied().filter(|id| !id.is_blob()).collect();
            Ok(())
        })();
        result.map_err(|error| {
            let rolled_back = vineyard_core::Error::invalid(error.to_string());
            failure = Some(error);
            rolled_back
        })?;
        Ok(ids)
    });
    let ids = match (stored, failure) {
        (Ok(ids), _) => ids,
        (Err(_), Some(error)) => return Err(error),
        (Err(error), None) => return Err(Error::Core(error)),
    };
    let by_provisional: Map<String, Value> = ids
        .iter()
        .map(|(provisional, id)| {
            (
                ObjectID(*provisional).to_string(),
                Value::from(id.to_string()),
            )
        })
        .collect();
    Ok(json!({ "ids": by_provisional }))
}

/// The descriptor command of an objects put (what [`crate::RemoteClient::put_objects`] sends).
pub(crate) fn command(blobs: &[(ObjectID, &[u8])], objects: &[(ObjectID, ObjectMeta)]) -> Value {
    let blobs: Vec<Value> = blobs
        .iter()
        .map(|(id, bytes)| json!({"id": id.to_string(), "size": bytes.len()}))
        .collect();
    let objects: Vec<Value> = objects
        .iter()
        .map(|(id, meta)| json!({"id": id.to_string(), "tree": Value::Object(meta.as_map().clone())}))
        .collect();
    json!({"kind": KIND, "blobs": blobs, "objects": objects})
}

/// The schema of the chunks: `blob` (uint32), `offset` (uint64), `data` (binary).
pub(crate) fn chunk_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("blob", DataType::UInt32, false),
        Field::new("offset", DataType::UInt64, false),
        Field::new("data", DataType::Binary, false),
    ]))
}

/// The blobs' bytes as record batches of one chunk each.
pub(crate) fn chunk_batches(
    schema: &SchemaRef,
    blobs: &[(ObjectID, &[u8])],
) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    for (index, (_, bytes)) in blobs.iter().enumerate() {
        for (number, chunk) in bytes.chunks(crate::objects::BLOB_CHUNK).enumerate() {
            let columns: Vec<ArrayRef> = vec![
                Arc::new(UInt32Array::from(vec![index as u32])),
                Arc::new(UInt64Array::from(vec![
                    (number * crate::objects::BLOB_CHUNK) as u64,
                ])),
                Arc::new(BinaryArray::from_vec(vec![chunk])),
            ];
            batches.push(RecordBatch::try_new(Arc::clone(schema), columns)?);
        }
    }
    Ok(batches)
}

/// The ids in an objects put's result, by provisional id.
pub(crate) fn parse_ids(result: &[u8]) -> Result<HashMap<ObjectID, ObjectID>> {
    let malformed = || Error::Protocol {
        message: format!(
            "an objects put returned `{}` instead of {{\"ids\": {{...}}}}",
            String::from_utf8_lossy(result)
        ),
    };
    let reply: Value = serde_json::from_slice(result).map_err(|_| malformed())?;
    let ids = reply
        .get("ids")
        .and_then(Value::as_object)
        .ok_or_else(malformed)?;
    ids.iter()
        .map(|(provisional, id)| {
            let provisional = provisional.parse::<ObjectID>().map_err(|_| malformed())?;
            let id = id
                .as_str()
                .and_then(|id| id.parse::<ObjectID>().ok())
                .ok_or_else(malformed)?;
            Ok((provisional, id))
        })
        .collect()
}

/// Replaces the provisional ids of member trees (`{"id": P, ...}` at any depth) with the ids
/// the instance gave.
fn replace_ids(value: &mut Value, ids: &HashMap<u64, ObjectID>) {
    let Value::Object(member) = value else {
        return;
    };
    if let Some(id) = member.get("id").and_then(id_of).and_then(|id| ids.get(&id)) {
        member.insert("id".into(), Value::from(id.to_string()));
    }
    for nested in member.values_mut() {
        replace_ids(nested, ids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(command: Value) -> FlightDescriptor {
        FlightDescriptor::new_cmd(command.to_string())
    }

    #[test]
    fn plans_are_read_and_checked() {
        let plan = Plan::from_descriptor(Some(&descriptor(json!({
            "kind": "objects",
            "blobs": [{"id": "o8000000000000007", "size": 3}],
            "objects": [{"id": 5, "tree": {"typename": "t", "b": {"id": "o8000000000000007"}}}],
        }))))
        .unwrap()
        .unwrap();
        assert_eq!(plan.blobs[0].id, 0x8000000000000007);
        assert_eq!(plan.objects[0].id, 5);
        assert!(
            Plan::from_descriptor(Some(&descriptor(json!({"kind": "table"}))))
                .unwrap()
                .is_none()
        );
        assert!(Plan::from_descriptor(None).unwrap().is_none());
        for bad in [
            json!({"kind": "objects", "blobs": [{"id": 1, "size": 3}]}),
            json!({"kind": "objects", "objects": [{"id": "o8000000000000001", "tree": {}}]}),
            json!({"kind": "objects", "objects": [{"id": 1, "tree": {}}, {"id": 1, "tree": {}}]}),
            json!({"kind": "objects", "blobs": [{"id": "zz", "size": 1}]}),
            json!({"kind": "objects", "extra": 1}),
        ] {
            assert!(
                Plan::from_descriptor(Some(&descriptor(bad.clone()))).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn member_ids_are_replaced_at_any_depth() {
        let ids = HashMap::from([
            (7u64, ObjectID(70)),
            (0x8000000000000001, ObjectID(0x8000000000000010)),
        ]);
        let mut tree = json!({
            "a": {"id": 7, "typename": "x", "inner": {"id": "o8000000000000001"}},
            "b": {"id": "o0000000000000009"},
            "c": 7,
        });
        replace_ids(&mut tree, &ids);
        assert_eq!(tree["a"]["id"], "o0000000000000046");
        assert_eq!(tree["a"]["inner"]["id"], "o8000000000000010");
        assert_eq!(tree["b"]["id"], "o0000000000000009");
        assert_eq!(tree["c"], 7);
    }
}
