//! Python exceptions: one `VineyardException` base and a subclass per Vineyard status code,
//! mapped from the core's `Error` at this edge.

use pyo3::exceptions::{PyBufferError, PyException};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use pyo3::{create_exception, PyErr};
use vineyard_core::{Code, Error};

create_exception!(
    _native,
    VineyardException,
    PyException,
    "Base of every vineyard error."
);
create_exception!(
    _native,
    InvalidException,
    VineyardException,
    "The request was invalid."
);
create_exception!(
    _native,
    KeyErrorException,
    VineyardException,
    "A key was missing."
);
create_exception!(
    _native,
    TypeErrorException,
    VineyardException,
    "A value had the wrong type."
);
create_exception!(
    _native,
    IOErrorException,
    VineyardException,
    "An I/O operation failed."
);
create_exception!(
    _native,
    NotImplementedException,
    VineyardException,
    "Not implemented."
);
create_exception!(
    _native,
    AssertionFailedException,
    VineyardException,
    "A check failed."
);
create_exception!(
    _native,
    UserInputErrorException,
    VineyardException,
    "Bad user input."
);
create_exception!(
    _native,
    ObjectExistsException,
    VineyardException,
    "The object exists."
);
create_exception!(
    _native,
    ObjectNotExistsException,
    VineyardException,
    "No such object."
);
create_exception!(
    _native,
    ObjectSealedException,
    VineyardException,
    "The blob is sealed."
);
create_exception!(
    _native,
    ObjectNotSealedException,
    VineyardException,
    "The blob is not sealed."
);
create_exception!(
    _native,
    MetaTreeInvalidException,
    VineyardException,
    "Invalid metadata tree."
);
create_exception!(
    _native,
    NotEnoughMemoryException,
    VineyardException,
    "The store is full."
);
create_exception!(
    _native,
    ConnectionFailedException,
    VineyardException,
    "Cannot connect."
);
create_exception!(
    _native,
    ConnectionErrorException,
    VineyardException,
    "The connection broke."
);
create_exception!(
    _native,
    EtcdErrorException,
    VineyardException,
    "The metadata service failed."
);
create_exception!(
    _native,
    GlobalObjectInvalidException,
    VineyardException,
    "Invalid global object."
);
create_exception!(
    _native,
    UnknownErrorException,
    VineyardException,
    "Any other error."
);

/// `LiveViewsException`, made on first use (`create_exception!` takes one base, and it has two).
static LIVE_VIEWS: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `LiveViewsException(VineyardException, BufferError)`: a `BlobBuilder` was sealed or aborted
/// while views of its memory were alive. It is a `BufferError` as Python's own exporters
/// raise one when asked to give up memory that is still exported.
pub fn live_views_exception(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    LIVE_VIEWS
        .get_or_try_init(py, || {
            let bases = (
                py.get_type::<VineyardException>(),
                py.get_type::<PyBufferError>(),
            );
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

/// Converts a core error into the matching Python exception, with `code` (and, for
/// `NotEnoughMemoryException`, `requested` / `available`) set on it.
pub fn to_py(error: Error) -> PyErr {
    let message = error.to_string();
    let code = error.code();
    let exception = match code {
        Code::Invalid => InvalidException::new_err(message),
        Code::KeyError => KeyErrorException::new_err(message),
        Code::TypeError => TypeErrorException::new_err(message),
        Code::IoError => IOErrorException::new_err(message),
        Code::NotImplemented => NotImplementedException::new_err(message),
        Code::AssertionFailed => AssertionFailedException::new_err(message),
        Code::UserInputError => UserInputErrorException::new_err(message),
        Code::ObjectNotExists => ObjectNotExistsException::new_err(message),
        Code::ObjectSealed => ObjectSealedException::new_err(message),
        Code::ObjectNotSealed => ObjectNotSealedException::new_err(message),
        Code::MetaTreeInvalid | Code::MetaTreeNameNotExists | Code::MetaTreeSubtreeNotExists => {
            MetaTreeInvalidException::new_err(message)
        }
        Code::NotEnoughMemory => NotEnoughMemoryException::new_err(message),
        Code::ConnectionFailed => ConnectionFailedException::new_err(message),
        Code::ConnectionError => ConnectionErrorException::new_err(message),
        Code::EtcdError => EtcdErrorException::new_err(message),
        Code::GlobalObjectInvalid => GlobalObjectInvalidException::new_err(message),
        _ => UnknownErrorException::new_err(message),
    };
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

/// Adds every exception class to the module, each with its Vineyard `code` as a class attribute.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let codes = [
        (py.get_type::<VineyardException>(), Code::UnknownError),
        (py.get_type::<InvalidException>(), Code::Invalid),
        (py.get_type::<KeyErrorException>(), Code::KeyError),
        (py.get_type::<TypeErrorException>(), Code::TypeError),
        (py.get_type::<IOErrorException>(), Code::IoError),
        (
            py.get_type::<NotImplementedException>(),
            Code::NotImplemented,
        ),
        (
            py.get_type::<AssertionFailedException>(),
            Code::AssertionFailed,
        ),
        (
            py.get_type::<UserInputErrorException>(),
            Code::UserInputError,
        ),
        (py.get_type::<ObjectExistsException>(), Code::Other(11)),
        (
            py.get_type::<ObjectNotExistsException>(),
            Code::ObjectNotExists,
        ),
        (py.get_type::<ObjectSealedException>(), Code::ObjectSealed),
        (
            py.get_type::<ObjectNotSealedException>(),
            Code::ObjectNotSealed,
        ),
        (
            py.get_type::<MetaTreeInvalidException>(),
            Code::MetaTreeInvalid,
        ),
        (
            py.get_type::<NotEnoughMemoryException>(),
            Code::NotEnoughMemory,
        ),
        (
            py.get_type::<ConnectionFailedException>(),
            Code::ConnectionFailed,
        ),
        (
            py.get_type::<ConnectionErrorException>(),
            Code::ConnectionError,
        ),
        (py.get_type::<EtcdErrorException>(), Code::EtcdError),
        (
            py.get_type::<GlobalObjectInvalidException>(),
            Code::GlobalObjectInvalid,
        ),
        (py.get_type::<UnknownErrorException>(), Code::UnknownError),
    ];
    for (class, code) in codes {
        class.setattr("code", code.as_i64())?;
    }
    module.add("VineyardException", py.get_type::<VineyardException>())?;
    module.add("InvalidException", py.get_type::<InvalidException>())?;
    module.add("KeyErrorException", py.get_type::<KeyErrorException>())?;
    module.add("TypeErrorException", py.get_type::<TypeErrorException>())?;
    module.add("IOErrorException", py.get_type::<IOErrorException>())?;
    module.add(
        "NotImplementedException",
        py.get_type::<NotImplementedException>(),
    )?;
    module.add(
        "AssertionFailedException",
        py.get_type::<AssertionFailedException>(),
    )?;
    module.add(
        "UserInputErrorException",
        py.get_type::<UserInputErrorException>(),
    )?;
    module.add(
        "ObjectExistsException",
        py.get_type::<ObjectExistsException>(),
    )?;
    module.add(
        "ObjectNotExistsException",
        py.get_type::<ObjectNotExistsException>(),
    )?;
    module.add(
        "ObjectSealedException",
        py.get_type::<ObjectSealedException>(),
    )?;
    module.add(
        "ObjectNotSealedException",
        py.get_type::<ObjectNotSealedException>(),
    )?;
    module.add(
        "MetaTreeInvalidException",
        py.get_type::<MetaTreeInvalidException>(),
    )?;
    module.add(
        "NotEnoughMemoryException",
        py.get_type::<NotEnoughMemoryException>(),
    )?;
    module.add(
        "ConnectionFailedException",
        py.get_type::<ConnectionFailedException>(),
    )?;
    module.add(
        "ConnectionErrorException",
        py.get_type::<ConnectionErrorException>(),
    )?;
    module.add("EtcdErrorException", py.get_type::<EtcdErrorException>())?;
    module.add(
        "GlobalObjectInvalidException",
        py.get_type::<GlobalObjectInvalidException>(),
    )?;
    module.add(
        "UnknownErrorException",
        py.get_type::<UnknownErrorException>(),
    )?;
    module.add("LiveViewsException", live_views_exception(py)?)?;
    Ok(())
}
