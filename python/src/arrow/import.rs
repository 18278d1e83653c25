//! Python Arrow values into Rust, through the PyCapsule protocol: schemas
//! (`__arrow_c_schema__`), arrays and record batches (`__arrow_c_array__`) and streams of
//! either (`__arrow_c_stream__`). Every array is checked against its type before Arrow reads
//! it, then validated in full, so a malformed export is an `ArrowErrorException` that names
//! what was wrong, raised before anything is written.

use std::sync::Arc;

use arrow::array::{make_array, new_empty_array, Array, ArrayRef, StructArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ffi::{from_ffi_and_data_type, FFI_ArrowArray, FFI_ArrowSchema};
use arrow::ffi_stream::FFI_ArrowArrayStream;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use pyo3::prelude::*;
use vineyard_core::Code;

use super::capsule;
use super::check::check;
use crate::errors::new_err;

/// An `ArrowErrorException` about the value being put.
pub fn arrow_error(message: impl std::fmt::Display) -> PyErr {
    new_err(
        Code::ArrowError,
        format!("cannot put this Arrow value: {message}"),
    )
}

/// The field a schema capsule describes.
fn field_of(schema: &FFI_ArrowSchema) -> PyResult<Field> {
    Field::try_from(schema).map_err(arrow_error)
}

/// Imports one exported array of `data_type`: checked, read, validated in full.
fn import_array(array: FFI_ArrowArray, data_type: &DataType, what: &str) -> PyResult<ArrayRef> {
    check(&array, data_type, what).map_err(arrow_error)?;
    if array.is_empty() {
        // Arrow's importer sizes the values of an empty string array as 0 bytes even when its
        // offset points past them (pyarrow's empty slices do): nothing to read anyway.
        return Ok(new_empty_array(data_type));
    }
    // SAFETY: `array` is an exported `ArrowArray` that `check` found consistent with
    // `data_type` (counts of buffers and children, pointers, lengths), so Arrow's importer
    // follows only pointers the exporter provided; it keeps `array` (and so the exporter's
    // memory) alive for as long as the imported buffers live.
    let data = unsafe { from_ffi_and_data_type(array, data_type.clone()) }.map_err(arrow_error)?;
    data.validate_full()
        .map_err(|error| arrow_error(format!("{what}: {error}")))?;
    Ok(make_array(data))
}

/// The schema of a value exporting `__arrow_c_schema__` (a `pyarrow.Schema`, ...).
pub fn schema(value: &Bound<'_, PyAny>) -> PyResult<Schema> {
    let method = "__arrow_c_schema__";
    let exported = value.call_method0(method)?;
    let schema = capsule::take_schema(&exported, method)?;
    Schema::try_from(&schema).map_err(arrow_error)
}

/// The field and array of a value exporting `__arrow_c_array__` (a `pyarrow.Array`, a
/// `pyarrow.RecordBatch` as a struct array, ...).
pub fn array(value: &Bound<'_, PyAny>) -> PyResult<(Field, ArrayRef)> {
    let method = "__arrow_c_array__";
    let exported = value.call_method0(method)?;
    let (schema, array) = exported.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
    let schema = capsule::take_schema(&schema, method)?;
    let array = capsule::take_array(&array, method)?;
    let field = field_of(&schema)?;
    let imported = import_array(array, field.data_type(), "the array")?;
    Ok((field, imported))
}

/// A record batch from a struct array and the schema its field describes.
pub fn batch_of(schema: &SchemaRef, array: &ArrayRef) -> PyResult<RecordBatch> {
    let Some(columns) = array.as_any().downcast_ref::<StructArray>() else {
        return Err(arrow_error(format!(
            "a record batch must export a struct array, got {}",
            array.data_type()
        )));
    };
    if columns.null_count() > 0 {
        return Err(arrow_error("a record batch cannot have null rows"));
    }
    let options = RecordBatchOptions::new().with_row_count(Some(columns.len()));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns.columns().to_vec(), &options)
        .map_err(arrow_error)
}

/// The schema of a record batch whose struct field is `field`.
pub fn schema_of_struct(field: &Field) -> PyResult<SchemaRef> {
    match field.data_type() {
        DataType::Struct(fields) => Ok(Arc::new(Schema::new_with_metadata(
            fields.clone(),
            field.metadata().clone(),
        ))),
        other => Err(arrow_error(format!(
            "a record batch must export a struct type, got {other}"
        ))),
    }
}

/// The text of the stream's last error, if it gives one.
fn last_error(stream: &mut FFI_ArrowArrayStream) -> String {
    let Some(get_last_error) = stream.get_last_error else {
        return "no reason given".into();
    };
    // SAFETY: the stream is live (not released) and `get_last_error` is its own callback; the
    // text it returns stays valid until the next call on the stream, and is copied at once.
    let text = unsafe { get_last_error(stream) };
    if text.is_null() {
        return "no reason given".into();
    }
    // SAFETY: a non-null result is a NUL-terminated string owned by the stream.
    unsafe { std::ffi::CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

/// The field (a struct for record batches) and every array of a value exporting
/// `__arrow_c_stream__` (a `pyarrow.Table`, a `RecordBatchReader`, a `ChunkedArray`, ...).
pub fn stream(value: &Bound<'_, PyAny>) -> PyResult<(Field, Vec<ArrayRef>)> {
    let method = "__arrow_c_stream__";
    let exported = value.call_method0(method)?;
    let mut stream = capsule::take_stream(&exported, method)?;
    let (Some(get_schema), Some(get_next)) = (stream.get_schema, stream.get_next) else {
        return Err(arrow_error(
            "the exported stream is released or has no callbacks",
        ));
    };
    let mut schema = FFI_ArrowSchema::empty();
    // SAFETY: the stream is live and `get_schema` is its callback, writing into `schema`.
    if unsafe { get_schema(&mut stream, &mut schema) } != 0 {
        return Err(arrow_error(format!(
            "the stream gave no schema: {}",
            last_error(&mut stream)
        )));
    }
    let field = field_of(&schema)?;
    let mut arrays = Vec::new();
    loop {
        let mut array = FFI_ArrowArray::empty();
        // SAFETY: the stream is live and `get_next` is its callback, writing into `array`.
        if unsafe { get_next(&mut stream, &mut array) } != 0 {
            return Err(arrow_error(format!(
                "the stream failed after {} batches: {}",
                arrays.len(),
                last_error(&mut stream)
            )));
        }
        if array.is_released() {
            break; // the end of the stream
        }
        let what = format!("batch {}", arrays.len());
        arrays.push(import_array(array, field.data_type(), &what)?);
    }
    Ok((field, arrays))
}
