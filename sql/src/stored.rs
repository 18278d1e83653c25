//! Stored objects as tables: which objects are Arrow-shaped, and what a table is made of.
//!
//! A `vineyard::Table` is read part by part (its `partitions_-i`, each a
//! `vineyard::RecordBatch` with its row count in `row_num_`), so a scan maps only the columns
//! and parts it needs, and a part held by another instance is read from it. A lone record
//! batch is one such part. Every other Arrow-shaped object (dataframes, arrays, tensors,
//! chunked arrays) is resolved whole when the table is opened: its batches are views of the
//! shared memory either way.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use serde_json::Value;
use vineyard_core::{InstanceID, IpcClient, ObjectID, ObjectMeta};
use vineyard_resolvers::layout::{BLOB, RECORD_BATCH, SCHEMA_PROXY, TABLE};
use vineyard_resolvers::{blob_ids, default_registry, FetchedBlobs, Resolved};

use crate::error::{Error, Result};

/// Whether objects of `typename` can be read as a table.
pub(crate) fn is_arrow_shaped(typename: &str) -> bool {
    if typename.starts_with(BLOB.typename) || typename.starts_with(SCHEMA_PROXY.typename) {
        return false;
    }
    default_registry()
        .prefixes()
        .any(|prefix| typename.starts_with(prefix))
}

/// One `vineyard::RecordBatch` of a table.
#[derive(Clone, Debug)]
pub(crate) struct Part {
    /// Its tree, members expanded.
    pub(crate) meta: ObjectMeta,
    /// Its id.
    pub(crate) id: ObjectID,
    /// Its rows.
    pub(crate) rows: usize,
    /// The instance holding its payload.
    pub(crate) instance: InstanceID,
}

/// What a table is made of.
#[derive(Clone, Debug)]
pub(crate) enum Contents {
    /// Record batches read, projected, when the scan gets to them (shared: a cached table
    /// and its scans hold the same parts).
    Parts(Vec<Arc<Part>>),
    /// Batches resolved already (over the shared memory).
    Batches(Vec<RecordBatch>),
}

/// A stored object opened as a table.
#[derive(Clone, Debug)]
pub(crate) struct StoredObject {
    /// The name or id the query used.
    pub(crate) label: String,
    /// The object.
    pub(crate) id: ObjectID,
    /// Its schema.
    pub(crate) schema: SchemaRef,
    /// Its data.
    pub(crate) contents: Contents,
}

impl StoredObject {
    /// Rows in all.
    pub(crate) fn rows(&self) -> usize {
        match &self.contents {
            Contents::Parts(parts) => parts.iter().map(|part| part.rows).sum(),
            Contents::Batches(batches) => batches.iter().map(RecordBatch::num_rows).sum(),
        }
    }
}

/// Opens the object `meta` (members expanded) as a table; `label` names it in errors.
pub(crate) fn open(client: &IpcClient, label: &str, meta: ObjectMeta) -> Result<StoredObject> {
    let id = meta.id().unwrap_or_default();
    let typename = meta.typename().unwrap_or_default().to_string();
    if !is_arrow_shaped(&typename) {
        return Err(Error::NotArrow {
            what: label.to_string(),
            typename,
        });
    }
    let local = client.instance_id();
    let resolve_error = |source| Error::Resolve {
        what: label.to_string(),
        source,
    };
    if typename == TABLE.typename {
        let schema = schema_of(client, &meta, TABLE.schema, label)?;
        let count = count_of(&meta, &[TABLE.batch_num, &TABLE.partitions.size()])
            .ok_or_else(|| invalid_tree(label, "has no batch count (`batch_num_`)"))?;
        let parts = (0..count)
            .map(|index| {
                let part = meta
                    .member(&TABLE.partitions.at(index))
                    .ok_or_else(|| invalid_tree(label, &format!("has no batch {index}")))?;
                part_of(label, part, local).map(Arc::new)
            })
            .collect::<Result<_>>()?;
        return Ok(StoredObject {
            label: label.to_string(),
            id,
            schema,
            contents: Contents::Parts(parts),
        });
    }
    if typename == RECORD_BATCH.typename {
        let schema = schema_of(client, &meta, RECORD_BATCH.schema, label)?;
        return Ok(StoredObject {
            label: label.to_string(),
            id,
            schema,
            contents: Contents::Parts(vec![Arc::new(part_of(label, meta, local)?)]),
        });
    }
    let resolved = vineyard_resolvers::resolve(client, &meta).map_err(resolve_error)?;
    if matches!(resolved, Resolved::Blob(_)) {
        return Err(Error::NotArrow {
            what: label.to_string(),
            typename,
        });
    }
    let (schema, batches) =
        vineyard_resolvers::to_record_batches(resolved).map_err(resolve_error)?;
    Ok(StoredObject {
        label: label.to_string(),
        id,
        schema,
        contents: Contents::Batches(batches),
    })
}

/// Reads `parts` with only the columns `projection` (indices into `schema`), over the shared
/// memory, asking the instance for the blobs of them all at once; each batch's schema is
/// `schema` projected.
pub(crate) fn read_parts(
    client: &IpcClient,
    label: &str,
    parts: &[Arc<Part>],
    schema: &SchemaRef,
    projection: &[usize],
) -> Result<Vec<RecordBatch>> {
    let columns = parts
        .iter()
        .map(|part| part_columns(label, part, projection))
        .collect::<Result<Vec<_>>>()?;
    let mut ids = Vec::new();
    for column in columns.iter().flatten() {
        blob_ids(column, &mut ids);
    }
    let blobs = client.get_blobs(&ids).map_err(|source| Error::Resolve {
        what: label.to_string(),
        source: source.into(),
    })?;
    let fetched = FetchedBlobs::new(blobs);
    let projected = Arc::new(schema.project(projection)?);
    parts
        .iter()
        .zip(columns)
        .map(|(part, columns)| {
            let arrays = columns
                .iter()
                .map(|column| {
                    default_registry()
                        .resolve_array(&fetched, column)
                        .map_err(|source| Error::Resolve {
                            what: format!("part {} of {label}", part.id),
                            source,
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            let options = RecordBatchOptions::new().with_row_count(Some(part.rows));
            Ok(RecordBatch::try_new_with_options(
                Arc::clone(&projected),
                arrays,
                &options,
            )?)
        })
        .collect()
}

/// The trees of the columns `projection` of `part`.
fn part_columns<'a>(
    label: &str,
    part: &'a Part,
    projection: &[usize],
) -> Result<Vec<&'a ObjectMeta>> {
    projection
        .iter()
        .map(|&index| {
            part.meta
                .member_ref(&RECORD_BATCH.columns.at(index))
                .ok_or_else(|| {
                    invalid_tree(label, &format!("has no column {index} in part {}", part.id))
                })
        })
        .collect()
}

fn part_of(label: &str, meta: ObjectMeta, local: InstanceID) -> Result<Part> {
    let id = meta
        .id()
        .ok_or_else(|| invalid_tree(label, "has a batch without an id"))?;
    let rows = count_of(&meta, &[RECORD_BATCH.row_num])
        .ok_or_else(|| invalid_tree(label, &format!("has batch {id} without `row_num_`")))?;
    let instance = meta.instance_id().unwrap_or(local);
    Ok(Part {
        meta,
        id,
        rows,
        instance,
    })
}

/// The schema in member `member` (a `vineyard::SchemaProxy`) of `meta`.
fn schema_of(
    client: &IpcClient,
    meta: &ObjectMeta,
    member: &str,
    label: &str,
) -> Result<SchemaRef> {
    let proxy = meta
        .member(member)
        .ok_or_else(|| invalid_tree(label, &format!("has no `{member}`")))?;
    match vineyard_resolvers::resolve(client, &proxy) {
        Ok(Resolved::Table { schema, .. }) => Ok(schema),
        Ok(other) => Err(invalid_tree(
            label,
            &format!("has a `{member}` that is {}, not a schema", other.kind()),
        )),
        Err(source) => Err(Error::Resolve {
            what: label.to_string(),
            source,
        }),
    }
}

/// The first of `fields` that holds a count (a number, or a number as text).
fn count_of(meta: &ObjectMeta, fields: &[&str]) -> Option<usize> {
    fields.iter().find_map(|field| match meta.get(field)? {
        Value::Number(number) => number.as_u64().map(|count| count as usize),
        Value::String(text) => text.parse().ok(),
        _ => None,
    })
}

fn invalid_tree(label: &str, problem: &str) -> Error {
    Error::invalid(format!(
        "{label} cannot be read as a table: its metadata {problem}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_shaped_typenames() {
        for typename in [
            "vineyard::Table",
            "vineyard::RecordBatch",
            "vineyard::DataFrame",
            "vineyard::NumericArray<int64>",
            "vineyard::Tensor<double>",
        ] {
            assert!(is_arrow_shaped(typename), "{typename}");
        }
        for typename in [
            "vineyard::Blob",
            "vineyard::SchemaProxy",
            "vineyard::Tuple",
            "vineyard::Scalar<int>",
            "my::Thing",
        ] {
            assert!(!is_arrow_shaped(typename), "{typename}");
        }
    }
}
