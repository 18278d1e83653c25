//! `InstanceStatus`: the core's status struct as a Python object (the fields are the struct's,
//! read through serde, so Python never restates them).

use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Map, Value};
use vineyard_core::InstanceStatus;

use crate::json::to_python;

/// What `client.status` reports about an instance: `instance_id`, `deployment`,
/// `memory_usage`, `memory_limit`, `deferred_requests`, `ipc_connections`,
/// `rpc_connections`.
#[pyclass(name = "InstanceStatus", module = "vineyard._native", frozen)]
pub struct PyInstanceStatus {
    fields: Map<String, Value>,
}

impl PyInstanceStatus {
    /// Wraps a status read from an instance.
    pub fn new(status: &InstanceStatus) -> PyInstanceStatus {
        match serde_json::to_value(status) {
            Ok(Value::Object(fields)) => PyInstanceStatus { fields },
            _ => unreachable!("a struct serialises to an object"),
        }
    }
}

#[pymethods]
impl PyInstanceStatus {
    /// The status in `fields` (a dict as the Flight `status` action returns it); fails if a
    /// field is missing or has the wrong type.
    #[new]
    fn from_fields(fields: &Bound<'_, PyDict>) -> PyResult<PyInstanceStatus> {
        let json = fields.py().import("json")?;
        let text: String = json.call_method1("dumps", (fields,))?.extract()?;
        let status: InstanceStatus = serde_json::from_str(&text)
            .map_err(|error| PyValueError::new_err(format!("not an instance status: {error}")))?;
        Ok(PyInstanceStatus::new(&status))
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        match self.fields.get(name) {
            Some(value) => to_python(py, value),
            None => Err(PyAttributeError::new_err(format!(
                "InstanceStatus has no field {name:?}; it has {}",
                self.names().join(", ")
            ))),
        }
    }

    fn __dir__(&self) -> Vec<String> {
        let mut names = self.names();
        names.push("as_dict".into());
        names
    }

    /// The fields as a dict.
    fn as_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &Value::Object(self.fields.clone()))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyInstanceStatus>()
            .is_ok_and(|other| other.get().fields == self.fields)
    }

    fn __repr__(&self) -> String {
        let mut lines = vec!["InstanceStatus:".to_string()];
        for (name, value) in &self.fields {
            let shown = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            lines.push(format!("    {name}: {shown}"));
        }
        lines.join("\n")
    }

    fn __str__(&self) -> String {
        self.__repr__()
    }
}

impl PyInstanceStatus {
    fn names(&self) -> Vec<String> {
        self.fields.keys().cloned().collect()
    }
}
