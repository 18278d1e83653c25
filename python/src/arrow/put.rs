//! `put` of Arrow values: the value crosses through the C Data Interface (each array checked
//! and validated, see `import`), then `vineyard-builders` writes it, every buffer copied once
//! (buffers that are blobs `get` handed out are reused), in one put that undoes itself if it
//! fails. Nothing is written before the whole value is imported and its types checked.
//! View types (polars' strings) are stored as the strings and binaries the layouts have.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use pyo3::prelude::*;
use vineyard_builders::{default_registry, Put};
use vineyard_core::{Code, IpcClient, ObjectMeta};

use super::import;
use crate::errors::{new_err, to_py};
use crate::mapped::MappedBlobs;

/// A value imported from Python, ready to be written.
enum Imported {
    Array(ArrayRef),
    Batch(RecordBatch),
    Table(SchemaRef, Vec<RecordBatch>),
    Chunked(DataType, Vec<ArrayRef>),
    Schema(Schema),
}

/// The type a value of `data_type` is stored as: views (polars' strings) become the
/// strings and binaries the layouts have, inside lists and structs too.
fn stored_type(data_type: &DataType) -> DataType {
    let field = |field: &FieldRef| {
        Arc::new(
            field
                .as_ref()
                .clone()
                .with_data_type(stored_type(field.data_type())),
        )
    };
    match data_type {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::List(item) => DataType::List(field(item)),
        DataType::LargeList(item) => DataType::LargeList(field(item)),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(field).collect()),
        other => other.clone(),
    }
}

/// `array` as its stored type (a copy only for views).
fn stored(array: ArrayRef) -> PyResult<ArrayRef> {
    let target = stored_type(array.data_type());
    if &target == array.data_type() {
        return Ok(array);
    }
    cast(&array, &target).map_err(import::arrow_error)
}

/// A schema whose fields have their stored types.
fn stored_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            field
                .as_ref()
                .clone()
                .with_data_type(stored_type(field.data_type()))
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// A record batch of `schema` whose columns have their stored types.
fn stored_batch(schema: &SchemaRef, array: ArrayRef) -> PyResult<RecordBatch> {
    let batch = import::batch_of(schema, &array)?;
    let columns = batch
        .columns()
        .iter()
        .map(|column| stored(Arc::clone(column)))
        .collect::<PyResult<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(stored_schema(schema), columns, &options)
        .map_err(import::arrow_error)
}

/// Imports `value` as `kind`: `array`, `record_batch`, `table`, `chunked_array` or `schema`.
fn import_value(value: &Bound<'_, PyAny>, kind: &str) -> PyResult<Imported> {
    Ok(match kind {
        "array" => Imported::Array(stored(import::array(value)?.1)?),
        "record_batch" => {
            let (field, array) = import::array(value)?;
            let schema = import::schema_of_struct(&field)?;
            Imported::Batch(stored_batch(&schema, array)?)
        }
        "table" => {
            let (field, arrays) = import::stream(value)?;
            let schema = import::schema_of_struct(&field)?;
            let batches = arrays
                .into_iter()
                .map(|array| stored_batch(&schema, array))
                .collect::<PyResult<Vec<_>>>()?;
            Imported::Table(stored_schema(&schema), batches)
        }
        "chunked_array" => {
            let (field, chunks) = import::stream(value)?;
            let chunks = chunks
                .into_iter()
                .map(stored)
                .collect::<PyResult<Vec<_>>>()?;
            Imported::Chunked(stored_type(field.data_type()), chunks)
        }
        "schema" => Imported::Schema(import::schema(value)?),
        other => {
            return Err(new_err(
                Code::Invalid,
                format!(
                    "put_arrow cannot put a {other:?}; the kinds are array, record_batch, \
                     table, chunked_array and schema"
                ),
            ))
        }
    })
}

/// Writes an imported value; returns its created tree.
fn write(
    client: &IpcClient,
    mapped: &MappedBlobs,
    imported: &Imported,
) -> vineyard_builders::Result<ObjectMeta> {
    let find = |address: usize, size: usize| mapped.find(address, Some(size));
    let put = Put::new(client).reusing(&find);
    let registry = default_registry();
    match imported {
        Imported::Array(array) => registry.put_array_with(put, array.as_ref()),
        Imported::Batch(batch) => registry.put_record_batch_with(put, batch),
        Imported::Table(schema, batches) => registry.put_table_with(put, schema, batches),
        Imported::Chunked(data_type, chunks) => {
            registry.put_chunked_array_with(put, data_type, chunks)
        }
        Imported::Schema(schema) => registry.put_schema_with(put, schema),
    }
}

/// A builder error as the Python exception of its kind.
fn build_error(error: vineyard_builders::Error) -> PyErr {
    match error {
        vineyard_builders::Error::Core(core) => to_py(core),
        vineyard_builders::Error::UnsupportedType { .. } => {
            new_err(Code::TypeError, error.to_string())
        }
        other => new_err(Code::ArrowError, other.to_string()),
    }
}

/// Imports `value` (an object exporting the Arrow PyCapsule protocol) as `kind` and puts it;
/// returns the created tree.
pub fn put_arrow(
    py: Python<'_>,
    client: IpcClient,
    mapped: &Arc<MappedBlobs>,
    value: &Bound<'_, PyAny>,
    kind: &str,
) -> PyResult<ObjectMeta> {
    let imported = import_value(value, kind)?;
    let mapped = Arc::clone(mapped);
    py.detach(move || write(&client, &mapped, &imported))
        .map_err(build_error)
}
