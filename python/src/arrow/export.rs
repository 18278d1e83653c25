//! What Python receives for Arrow data: `ArrowArray`, `ArrowRecordBatch` and `ArrowTable`,
//! which export themselves through the Arrow PyCapsule protocol. Their buffers point into the
//! shared memory and own the blobs they view, so a consumer (pyarrow, polars, DuckDB, pandas,
//! DataFusion) reads them without a copy, and the blobs stay held until it releases them.
//!
//! A `requested_schema` is accepted and ignored, as the protocol allows: the data is exported
//! as stored, and a consumer that wants another type casts.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatchIterator, StructArray};
use arrow::datatypes::SchemaRef;
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow::ffi_stream::FFI_ArrowArrayStream;
use arrow::record_batch::RecordBatch;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use super::capsule;
use super::import::arrow_error;

fn schema_capsule<'py>(
    py: Python<'py>,
    exported: Result<FFI_ArrowSchema, arrow::error::ArrowError>,
) -> PyResult<Bound<'py, PyCapsule>> {
    capsule::schema(py, exported.map_err(arrow_error)?)
}

fn stream_capsule<'py>(
    py: Python<'py>,
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), Arc::clone(schema));
    capsule::stream(py, FFI_ArrowArrayStream::new(Box::new(reader)))
}

/// An Arrow array over the shared memory.
#[pyclass(name = "ArrowArray", module = "vineyard._native", frozen)]
pub struct PyArrowArray {
    array: ArrayRef,
}

impl PyArrowArray {
    /// Wraps an array.
    pub fn new(array: ArrayRef) -> PyArrowArray {
        PyArrowArray { array }
    }
}

#[pymethods]
impl PyArrowArray {
    /// The array's type, as an `arrow_schema` capsule.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, FFI_ArrowSchema::try_from(self.array.data_type()))
    }

    /// The array and its type, as `(arrow_schema, arrow_array)` capsules.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
        let _ = requested_schema;
        let data = self.array.to_data();
        Ok((
            self.__arrow_c_schema__(py)?,
            capsule::array(py, FFI_ArrowArray::new(&data))?,
        ))
    }

    fn __len__(&self) -> usize {
        self.array.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "vineyard ArrowArray <{}, {} values>",
            self.array.data_type(),
            self.array.len()
        )
    }
}

/// An Arrow record batch over the shared memory (a struct array to `__arrow_c_array__`, a
/// stream of one batch to `__arrow_c_stream__`).
#[pyclass(name = "ArrowRecordBatch", module = "vineyard._native", frozen)]
pub struct PyArrowRecordBatch {
    batch: RecordBatch,
}

impl PyArrowRecordBatch {
    /// Wraps a record batch.
    pub fn new(batch: RecordBatch) -> PyArrowRecordBatch {
        PyArrowRecordBatch { batch }
    }
}

#[pymethods]
impl PyArrowRecordBatch {
    /// The batch's schema, as an `arrow_schema` capsule.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, FFI_ArrowSchema::try_from(self.batch.schema().as_ref()))
    }

    /// The batch as a struct array, as `(arrow_schema, arrow_array)` capsules.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
        let _ = requested_schema;
        let data = StructArray::from(self.batch.clone()).to_data();
        Ok((
            self.__arrow_c_schema__(py)?,
            capsule::array(py, FFI_ArrowArray::new(&data))?,
        ))
    }

    /// The batch as a stream of one batch, as an `arrow_array_stream` capsule.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        stream_capsule(py, &self.batch.schema(), vec![self.batch.clone()])
    }

    fn __len__(&self) -> usize {
        self.batch.num_rows()
    }

    fn __repr__(&self) -> String {
        format!(
            "vineyard ArrowRecordBatch <{} rows, {} columns>",
            self.batch.num_rows(),
            self.batch.num_columns()
        )
    }
}

/// Record batches sharing one schema over the shared memory: a table, or a chunked array as
/// a table of one column (`chunked` says which).
#[pyclass(name = "ArrowTable", module = "vineyard._native", frozen)]
pub struct PyArrowTable {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl PyArrowTable {
    /// Wraps batches of `schema`.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> PyArrowTable {
        PyArrowTable { schema, batches }
    }
}

#[pymethods]
impl PyArrowTable {
    /// The schema, as an `arrow_schema` capsule.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, FFI_ArrowSchema::try_from(self.schema.as_ref()))
    }

    /// The batches, as an `arrow_array_stream` capsule.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        stream_capsule(py, &self.schema, self.batches.clone())
    }

    /// The number of batches.
    #[getter]
    fn num_batches(&self) -> usize {
        self.batches.len()
    }

    /// The number of rows in all batches.
    fn __len__(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    fn __repr__(&self) -> String {
        format!(
            "vineyard ArrowTable <{} rows, {} columns, {} batches>",
            self.__len__(),
            self.schema.fields().len(),
            self.batches.len()
        )
    }
}
