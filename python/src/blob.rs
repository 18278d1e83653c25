//! `Blob` (sealed, read-only) and `BlobBuilder` (writable until sealed), both exposing the
//! buffer protocol straight over the shared memory: numpy and pyarrow views copy nothing.

use std::ffi::{c_int, c_void};
use std::sync::Mutex;

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use vineyard_core::{Blob, BlobWriter};

use crate::errors::{new_err, to_py};
use crate::object_id::PyObjectId;

/// A stand-in address for zero-length buffers (exporters must not hand out NULL).
static EMPTY: u8 = 0;

/// Fills a buffer view over `[address, address + length)` owned by `owner`.
///
/// # Safety
/// `view` must be the pointer CPython passed to `__getbuffer__`, and the memory must stay valid
/// for as long as `owner` lives.
unsafe fn fill_view(
    view: *mut ffi::Py_buffer,
    flags: c_int,
    address: *const u8,
    length: usize,
    readonly: bool,
    owner: Bound<'_, PyAny>,
) -> PyResult<()> {
    if view.is_null() {
        return Err(PyBufferError::new_err("buffer view is null"));
    }
    if readonly && (flags & ffi::PyBUF_WRITABLE) == ffi::PyBUF_WRITABLE {
        return Err(PyBufferError::new_err(
            "a sealed vineyard blob is immutable; copy it (bytes(blob)) to get writable memory",
        ));
    }
    let address = if length == 0 {
        &EMPTY as *const u8
    } else {
        address
    };
    unsafe {
        (*view).obj = owner.into_ptr();
        (*view).buf = address as *mut c_void;
        (*view).len = length as isize;
        (*view).readonly = c_int::from(readonly);
        (*view).itemsize = 1;
        (*view).format = if (flags & ffi::PyBUF_FORMAT) == ffi::PyBUF_FORMAT {
            c"B".as_ptr() as *mut _
        } else {
            std::ptr::null_mut()
        };
        (*view).ndim = 1;
        (*view).shape = if (flags & ffi::PyBUF_ND) == ffi::PyBUF_ND {
            &mut (*view).len
        } else {
            std::ptr::null_mut()
        };
        (*view).strides = if (flags & ffi::PyBUF_STRIDES) == ffi::PyBUF_STRIDES {
            &mut (*view).itemsize
        } else {
            std::ptr::null_mut()
        };
        (*view).suboffsets = std::ptr::null_mut();
        (*view).internal = std::ptr::null_mut();
    }
    Ok(())
}

/// A sealed blob mapped read-only. While it (or any view of it) lives, its bytes stay valid
/// and the server keeps it, even if the object is deleted meanwhile.
#[pyclass(name = "Blob", module = "vineyard._native", frozen)]
pub struct PyBlob {
    pub blob: Blob,
}

#[pymethods]
impl PyBlob {
    /// The blob's id.
    #[getter]
    fn id(&self) -> PyObjectId {
        PyObjectId(self.blob.id())
    }

    /// Length in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.blob.size()
    }

    /// Address of the first byte in this process (0 for the empty blob).
    #[getter]
    fn address(&self) -> usize {
        if self.blob.is_empty() {
            0
        } else {
            self.blob.as_ptr() as usize
        }
    }

    /// True for the empty blob.
    #[getter]
    fn is_empty(&self) -> bool {
        self.blob.is_empty()
    }

    fn __len__(&self) -> usize {
        self.blob.size()
    }

    fn __repr__(&self) -> String {
        format!("Object <\"{}\": vineyard::Blob>", self.blob.id())
    }

    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let (address, length) = (slf.get().blob.as_ptr(), slf.get().blob.size());
        unsafe { fill_view(view, flags, address, length, true, slf.into_any()) }
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

/// A writable buffer in shared memory (writable buffer protocol). Seal or abort it.
#[pyclass(name = "BlobBuilder", module = "vineyard._native")]
pub struct PyBlobBuilder {
    writer: Mutex<Option<BlobWriter>>,
    id: PyObjectId,
    size: usize,
    address: usize,
}

impl PyBlobBuilder {
    /// Wraps a writer.
    pub fn new(mut writer: BlobWriter) -> PyBlobBuilder {
        let address = if writer.size() == 0 {
            0
        } else {
            writer.as_mut_ptr() as usize
        };
        PyBlobBuilder {
            id: PyObjectId(writer.id()),
            size: writer.size(),
            address,
            writer: Mutex::new(Some(writer)),
        }
    }

    fn take(&self, action: &str) -> PyResult<BlobWriter> {
        self.writer
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take()
            .ok_or_else(|| {
                new_err(
                    vineyard_core::Code::ObjectSealed,
                    format!(
                        "cannot {action} blob {}: it was already sealed or aborted",
                        self.id.0
                    ),
                )
            })
    }

    fn is_open(&self) -> bool {
        self.writer
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .is_some()
    }
}

#[pymethods]
impl PyBlobBuilder {
    /// The blob's id.
    #[getter]
    fn id(&self) -> PyObjectId {
        self.id
    }

    /// Length in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.size
    }

    /// Address of the first byte in this process (0 when empty).
    #[getter]
    fn address(&self) -> usize {
        self.address
    }

    fn __len__(&self) -> usize {
        self.size
    }

    fn __repr__(&self) -> String {
        format!("BlobBuilder <\"{}\": {} bytes>", self.id.0, self.size)
    }

    /// Copies the bytes of any buffer-protocol object to `offset` (GIL released while copying).
    fn copy(&self, py: Python<'_>, offset: usize, data: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.is_open() {
            return Err(new_err(
                vineyard_core::Code::ObjectSealed,
                format!(
                    "cannot write blob {}: it was already sealed or aborted",
                    self.id.0
                ),
            ));
        }
        let source = ContiguousBuffer::new(data)?;
        let length = source.length();
        if offset.checked_add(length).is_none_or(|end| end > self.size) {
            return Err(PyValueError::new_err(format!(
                "cannot copy {length} bytes at offset {offset} into a blob of {} bytes",
                self.size
            )));
        }
        if length == 0 {
            return Ok(());
        }
        let (from, to) = (source.bytes(), self.address + offset);
        // SAFETY: the destination lies inside this builder's writable range (checked above),
        // which no other slice in this process covers while the copy runs.
        py.detach(move || unsafe {
            let to = std::slice::from_raw_parts_mut(to as *mut u8, length);
            vineyard_core::copy_bytes(to, from);
        });
        Ok(())
    }

    /// Seals the blob: immutable and readable by others from now on. Returns its id.
    fn seal(&self, py: Python<'_>) -> PyResult<PyObjectId> {
        let writer = self.take("seal")?;
        py.detach(move || writer.seal())
            .map(PyObjectId)
            .map_err(to_py)
    }

    /// Seals without waiting for the reply: the next request on the client (or `flush()`)
    /// reads it, and fails if the seal did. Returns the id.
    fn seal_before_next_request(&self, py: Python<'_>) -> PyResult<PyObjectId> {
        let writer = self.take("seal")?;
        py.detach(move || writer.seal_before_next_request())
            .map(PyObjectId)
            .map_err(to_py)
    }

    /// Gives the memory back without sealing.
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        let writer = self.take("abort")?;
        py.detach(move || writer.abort()).map_err(to_py)
    }

    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let (address, length) = {
            let builder = slf.borrow();
            (builder.address as *const u8, builder.size)
        };
        unsafe { fill_view(view, flags, address, length, false, slf.into_any()) }
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

/// A C-contiguous buffer view of any exporter (bytes, numpy, pyarrow, memoryview, ...).
pub struct ContiguousBuffer {
    view: ffi::Py_buffer,
}

impl ContiguousBuffer {
    /// Asks `data` for a C-contiguous view; non-contiguous exporters fail with a clear error.
    pub fn new(data: &Bound<'_, PyAny>) -> PyResult<ContiguousBuffer> {
        let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::uninit();
        // SAFETY: `data` is a live object; on success CPython initialises `view`.
        let status = unsafe {
            ffi::PyObject_GetBuffer(data.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_C_CONTIGUOUS)
        };
        if status != 0 {
            let cause = PyErr::take(data.py());
            let error = PyBufferError::new_err(format!(
                "expected a C-contiguous buffer (bytes, memoryview, numpy array, ...), got {}",
                data.get_type().name()?
            ));
            error.set_cause(data.py(), cause);
            return Err(error);
        }
        // SAFETY: PyObject_GetBuffer succeeded.
        Ok(ContiguousBuffer {
            view: unsafe { view.assume_init() },
        })
    }

    /// Bytes in the view.
    pub fn length(&self) -> usize {
        self.view.len as usize
    }

    /// Address of the first byte.
    fn address(&self) -> *const u8 {
        self.view.buf as *const u8
    }

    /// The bytes of the view.
    pub fn bytes(&self) -> &[u8] {
        if self.length() == 0 {
            return &[];
        }
        // SAFETY: the view stays valid and unmoved while `self` lives; it holds `length` bytes.
        unsafe { std::slice::from_raw_parts(self.address(), self.length()) }
    }
}

impl Drop for ContiguousBuffer {
    fn drop(&mut self) {
        // SAFETY: the view was filled by PyObject_GetBuffer and is released exactly once;
        // releasing needs the interpreter, which the caller holds while this is alive.
        Python::attach(|_| unsafe { ffi::PyBuffer_Release(&mut self.view) });
    }
}
