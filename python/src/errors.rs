//! Python exceptions: `VineyardException` (a `RuntimeError`, as in Vineyard) and one subclass
//! per row of the core's status-code table (`vineyard_core::error::STATUS_CODES`), created
//! when the module is imported. A core error becomes the class of its code, here and for
//! errors that arrived over Flight with their code; nothing else lists the classes.

use std::collections::HashMap;
use std::ffi::CString;

use pyo3::exceptions::{PyBufferError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use pyo3::PyErr;
use vineyard_core::error::STATUS_CODES;
use vineyard_core::{Code, Error};

/// The base class's name.
const BASE: &str = "VineyardException";

/// The exception classes: the base, and one per status code.
struct Classes {
    base: Py<PyType>,
    by_code: HashMap<i64, Py<PyType>>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn new_class(
    py: Python<'_>,
    name: &str,
    doc: &str,
    base: &Bound<'_, PyType>,
    code: Code,
) -> PyResult<Py<PyType>> {
    let qualified = CString::new(format!("vineyard._native.{name}")).expect("no NUL in names");
    let doc = CString::new(doc).expect("no NUL in docs");
    let class = PyErr::new_type(py, &qualified, Some(&doc), Some(base), None)?;
    class.bind(py).setattr("code", code.as_i64())?;
    Ok(class)
}

fn classes(py: Python<'_>) -> &Classes {
    CLASSES.get_or_init(py, || {
        let runtime_error = py.get_type::<PyRuntimeError>();
        let base = new_class(
            py,
            BASE,
            "Base of every vineyard error; `code` is its Vineyard status code.",
            &runtime_error,
            Code::UnknownError,
        )
        .expect("the base exception class can be created");
        let by_code = STATUS_CODES
            .iter()
            .filter(|row| !row.exception.is_empty())
            .map(|row| {
                let class = new_class(py, row.exception, row.doc, base.bind(py), row.code)
                    .expect("exception classes can be created");
                (row.value, class)
            })
            .collect();
        Classes { base, by_code }
    })
}

/// The exception class of `code` (`UnknownErrorException` for a code without one).
pub fn class_of<'py>(py: Python<'py>, code: Code) -> Bound<'py, PyType> {
    let classes = classes(py);
    classes
        .by_code
        .get(&code.as_i64())
        .or_else(|| classes.by_code.get(&Code::UnknownError.as_i64()))
        .expect("UnknownError has a class")
        .bind(py)
        .clone()
}

/// `LiveViewsException`, made on first use: it has two bases, and no status code of its own.
static LIVE_VIEWS: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `LiveViewsException(VineyardException, BufferError)`: a `BlobBuilder` was sealed or aborted
/// while views of its memory were alive. It is a `BufferError` as Python's own exporters
/// raise one when asked to give up memory that is still exported.
pub fn live_views_exception(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    LIVE_VIEWS
        .get_or_try_init(py, || {
            let bases = (classes(py).base.bind(py), py.get_type::<PyBufferError>());
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "vineyard._native")?;
            namespace.set_item(
                "__doc__",
                "A BlobBuilder was sealed or aborted while views of its memory (memoryviews, \
                 numpy arrays, ...) were alive; release them first.",
            )?;
            let class = py
                .get_type::<PyType>()
                .call1(("LiveViewsException", bases, namespace))?;
            Ok(class.cast_into::<PyType>()?.unbind())
        })
        .map(|class| class.bind(py))
}

/// A new exception of the class of `code`.
pub fn new_err(code: Code, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| PyErr::from_type(class_of(py, code), message))
}

/// Converts a core error into the exception of its code, with `code` (and, for
/// `NotEnoughMemoryException`, `requested` / `available`) set on it.
pub fn to_py(error: Error) -> PyErr {
    let code = error.code();
    let exception = new_err(code, error.to_string());
    Python::attach(|py| {
        let value = exception.value(py);
        let _ = value.setattr("code", code.as_i64());
        if let Error::NotEnoughMemory {
            requested,
            available,
        } = error
        {
            let _ = value.setattr("requested", requested);
            let _ = value.setattr("available", available);
        }
    });
    exception
}

/// Adds the base class and every code's class to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let classes = classes(py);
    module.add(BASE, classes.base.bind(py))?;
    for row in STATUS_CODES.iter().filter(|row| !row.exception.is_empty()) {
        module.add(row.exception, class_of(py, row.code))?;
    }
    module.add("LiveViewsException", live_views_exception(py)?)?;
    Ok(())
}
