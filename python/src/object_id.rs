//! `ObjectID` for Python: an int-like, hashable id printed as `o` + 16 hex digits.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use vineyard_core::ObjectID as CoreId;

use crate::errors::to_py;

/// A 64-bit object id.
#[pyclass(
    name = "ObjectID",
    module = "vineyard",
    frozen,
    eq,
    ord,
    hash,
    from_py_object
)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PyObjectId(pub CoreId);

#[pymethods]
impl PyObjectId {
    #[new]
    fn new(value: &Bound<'_, PyAny>) -> PyResult<PyObjectId> {
        if let Ok(id) = value.cast::<PyObjectId>() {
            return Ok(*id.get());
        }
        if let Ok(number) = value.extract::<u64>() {
            return Ok(PyObjectId(CoreId(number)));
        }
        if let Ok(text) = value.extract::<String>() {
            return text.parse().map(PyObjectId).map_err(to_py);
        }
        Err(PyTypeError::new_err(format!(
            "ObjectID() takes an int, an 'o...' string or an ObjectID, not {}",
            value.get_type().name()?
        )))
    }

    fn __int__(&self) -> u64 {
        self.0 .0
    }

    fn __index__(&self) -> u64 {
        self.0 .0
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("ObjectID <\"{}\">", self.0)
    }

    fn __reduce__(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, (u64,))> {
        Ok((
            py.get_type::<PyObjectId>().into_any().unbind(),
            (self.0 .0,),
        ))
    }

    /// True for blob ids.
    #[getter]
    fn is_blob(&self) -> bool {
        self.0.is_blob()
    }
}

/// Reads an id from an ObjectID, an int or an `o...` string.
pub fn extract_id(value: &Bound<'_, PyAny>) -> PyResult<CoreId> {
    PyObjectId::new(value).map(|id| id.0)
}
