//! `Resolved`, what a resolver gives, and its record-batch form for streaming.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{new_empty_array, ArrayRef, GenericBinaryArray, OffsetSizeTrait};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use vineyard_core::{Blob, ObjectMeta};

use crate::buffer::blob_buffer;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Schema metadata key of a streamed tensor's shape (a JSON list).
pub const SHAPE_KEY: &str = "vineyard.shape";
/// Schema metadata key of a streamed tensor's order (`C` or `F`).
pub const ORDER_KEY: &str = "vineyard.order";
/// The column name of streamed arrays, tensors and blobs.
pub const VALUE_COLUMN: &str = "value";

/// A resolved object; every buffer in it points into the shared memory.
#[derive(Clone, Debug)]
pub enum Resolved {
    /// An Arrow array.
    Array(ArrayRef),
    /// A record batch.
    RecordBatch(RecordBatch),
    /// Record batches sharing one schema (a table, a chunked array, a schema alone).
    Table {
        /// The schema of every batch.
        schema: SchemaRef,
        /// The batches, in order.
        batches: Vec<RecordBatch>,
    },
    /// An n-dimensional array.
    Tensor(Tensor),
    /// A blob's bytes.
    Blob(Blob),
}

impl Resolved {
    /// What the value is, for messages: `an array`, `a table`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Resolved::Array(_) => "an array",
            Resolved::RecordBatch(_) => "a record batch",
            Resolved::Table { .. } => "a table",
            Resolved::Tensor(_) => "a tensor",
            Resolved::Blob(_) => "a blob",
        }
    }

    /// The value as one array: an array as is, a tensor's values flattened, the column of a
    /// one-column table in at most one batch. `meta` names the object in errors.
    pub fn into_array(self, meta: &ObjectMeta) -> Result<ArrayRef> {
        match self {
            Resolved::Array(array) => Ok(array),
            Resolved::Tensor(tensor) => Ok(tensor.to_array()?),
            Resolved::Table { schema, batches }
                if schema.fields().len() == 1 && batches.len() <= 1 =>
            {
                Ok(match batches.first() {
                    Some(batch) => Arc::clone(batch.column(0)),
                    None => new_empty_array(schema.field(0).data_type()),
                })
            }
            other => Err(Error::unexpected_shape(meta, "an array", other.kind())),
        }
    }
}

fn one_column(field: Field, column: ArrayRef) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let schema = Arc::new(Schema::new(vec![field]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![column])?;
    Ok((schema, vec![batch]))
}

fn blob_column<O: OffsetSizeTrait>(blob: Blob) -> Result<ArrayRef, ArrowError> {
    let len = O::from_usize(blob.size())
        .ok_or_else(|| ArrowError::InvalidArgumentError("blob too large".into()))?;
    let offsets = OffsetBuffer::new(ScalarBuffer::from(vec![O::usize_as(0), len]));
    Ok(Arc::new(GenericBinaryArray::<O>::try_new(
        offsets,
        blob_buffer(blob),
        None,
    )?))
}

/// What a Flight `do_get` streams for any Arrow-shaped object: a table or batch as is; an
/// array as one column named `value`; a tensor as one column `value` of its values flattened
/// in C order, with the shape in the schema metadata ([`SHAPE_KEY`], a JSON list) and the
/// order ([`ORDER_KEY`], `C` or `F`, the producer's layout; the values are in C order either
/// way); a pandas DataFrame as its columns; a blob as one row of one binary column `value`
/// (large binary past 2 GiB). Nothing is copied but boolean tensors, which are bit-packed.
pub fn to_record_batches(resolved: Resolved) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    match resolved {
        Resolved::Table { schema, batches } => Ok((schema, batches)),
        Resolved::RecordBatch(batch) => Ok((batch.schema(), vec![batch])),
        Resolved::Array(array) => {
            let field = Field::new(VALUE_COLUMN, array.data_type().clone(), true);
            one_column(field, array)
        }
        Resolved::Tensor(tensor) => {
            let column = tensor.to_array()?;
            let shape = serde_json::to_string(&tensor.shape).expect("a list of integers");
            let order = if tensor.fortran_order { "F" } else { "C" };
            let metadata = HashMap::from([
                (SHAPE_KEY.to_string(), shape),
                (ORDER_KEY.to_string(), order.to_string()),
            ]);
            let field = Field::new(VALUE_COLUMN, column.data_type().clone(), false);
            let schema = Arc::new(Schema::new_with_metadata(vec![field], metadata));
            let batch = RecordBatch::try_new(Arc::clone(&schema), vec![column])?;
            Ok((schema, vec![batch]))
        }
        Resolved::Blob(blob) => {
            let column = if blob.size() > i32::MAX as usize {
                blob_column::<i64>(blob)?
            } else {
                blob_column::<i32>(blob)?
            };
            let field = Field::new(VALUE_COLUMN, column.data_type().clone(), false);
            one_column(field, column)
        }
    }
}
