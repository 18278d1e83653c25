//! JSON values to Python objects (for the few replies handed over as dicts).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::IntoPyObjectExt;
use serde_json::{Map, Value};

/// Converts a JSON value to the Python object `json.loads` would give.
pub fn to_python(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(flag) => flag.into_py_any(py)?,
        Value::Number(number) => match (number.as_u64(), number.as_i64()) {
            (Some(unsigned), _) => unsigned.into_py_any(py)?,
            (None, Some(signed)) => signed.into_py_any(py)?,
            _ => number.as_f64().unwrap_or(f64::NAN).into_py_any(py)?,
        },
        Value::String(text) => text.into_py_any(py)?,
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => dict_of(py, map)?,
    })
}

/// Converts a JSON object (a metadata tree) to a dict, as [`to_python`] does.
pub fn dict_of(py: Python<'_>, map: &Map<String, Value>) -> PyResult<Py<PyAny>> {
    let dict = PyDict::new(py);
    for (key, item) in map {
        dict.set_item(key, to_python(py, item)?)?;
    }
    Ok(dict.into_any().unbind())
}
