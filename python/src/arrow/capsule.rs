//! The capsules of the Arrow PyCapsule protocol: `arrow_schema`, `arrow_array` and
//! `arrow_array_stream`, each holding one C struct that its consumer moves out (leaving it
//! released) or that the capsule releases when it is collected unconsumed.

use std::ffi::CStr;

use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow::ffi_stream::FFI_ArrowArrayStream;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods};

/// The name of a schema capsule.
pub const SCHEMA: &CStr = c"arrow_schema";
/// The name of an array capsule.
pub const ARRAY: &CStr = c"arrow_array";
/// The name of a stream capsule.
pub const STREAM: &CStr = c"arrow_array_stream";

/// A capsule holding `schema`.
pub fn schema<'py>(py: Python<'py>, schema: FFI_ArrowSchema) -> PyResult<Bound<'py, PyCapsule>> {
    PyCapsule::new_with_value(py, schema, SCHEMA)
}

/// A capsule holding `array`.
pub fn array<'py>(py: Python<'py>, array: FFI_ArrowArray) -> PyResult<Bound<'py, PyCapsule>> {
    PyCapsule::new_with_value(py, array, ARRAY)
}

/// A capsule holding `stream`.
pub fn stream<'py>(
    py: Python<'py>,
    stream: FFI_ArrowArrayStream,
) -> PyResult<Bound<'py, PyCapsule>> {
    PyCapsule::new_with_value(py, stream, STREAM)
}

/// The pointer a capsule named `name` holds; a clear error for anything else.
fn pointer(capsule: &Bound<'_, PyAny>, name: &CStr, method: &str) -> PyResult<*mut u8> {
    let capsule = capsule.cast::<PyCapsule>().map_err(|_| {
        PyValueError::new_err(format!(
            "{method} returned {}, not a PyCapsule named {name:?}",
            capsule
                .get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })?;
    let held = capsule.pointer_checked(Some(name)).map_err(|_| {
        PyValueError::new_err(format!(
            "{method} returned a capsule that is not named {name:?}; the exporter does not \
             follow the Arrow PyCapsule interface"
        ))
    })?;
    Ok(held.as_ptr().cast())
}

/// Moves the schema out of an `arrow_schema` capsule.
pub fn take_schema(capsule: &Bound<'_, PyAny>, method: &str) -> PyResult<FFI_ArrowSchema> {
    let held = pointer(capsule, SCHEMA, method)?;
    // SAFETY: a capsule named `arrow_schema` holds an `ArrowSchema` (the protocol's
    // contract); `from_raw` moves it out and leaves a released one, which the capsule's own
    // destructor then skips.
    Ok(unsafe { FFI_ArrowSchema::from_raw(held.cast()) })
}

/// Moves the array out of an `arrow_array` capsule.
pub fn take_array(capsule: &Bound<'_, PyAny>, method: &str) -> PyResult<FFI_ArrowArray> {
    let held = pointer(capsule, ARRAY, method)?;
    // SAFETY: as in `take_schema`, for an `ArrowArray`.
    Ok(unsafe { FFI_ArrowArray::from_raw(held.cast()) })
}

/// Moves the stream out of an `arrow_array_stream` capsule.
pub fn take_stream(capsule: &Bound<'_, PyAny>, method: &str) -> PyResult<FFI_ArrowArrayStream> {
    let held = pointer(capsule, STREAM, method)?;
    // SAFETY: as in `take_schema`, for an `ArrowArrayStream`.
    Ok(unsafe { FFI_ArrowArrayStream::from_raw(held.cast()) })
}
