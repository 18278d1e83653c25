//! The buffer protocol at the edge: filling the views `Blob` and `BlobBuilder` export, and
//! reading the bytes of any exporter (`ContiguousBuffer`).

use std::ffi::{c_int, c_void};

use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;

/// A stand-in address for zero-length buffers (exporters must not hand out NULL).
static EMPTY: u8 = 0;

/// What a view exports: `length` bytes at `address`, read-only or writable.
pub struct Extent {
    /// Address of the first byte in this process (ignored when `length` is 0).
    pub address: *const u8,
    /// Bytes in the view.
    pub length: usize,
    /// True for sealed blobs.
    pub readonly: bool,
}

/// Fills a buffer view over `extent`, owned by `owner`.
///
/// # Safety
/// `view` must be the pointer CPython passed to `__getbuffer__`, and the memory must stay valid
/// for as long as `owner` lives.
pub unsafe fn fill_view(
    view: *mut ffi::Py_buffer,
    flags: c_int,
    extent: Extent,
    owner: Bound<'_, PyAny>,
) -> PyResult<()> {
    if view.is_null() {
        return Err(PyBufferError::new_err("buffer view is null"));
    }
    if extent.readonly && (flags & ffi::PyBUF_WRITABLE) == ffi::PyBUF_WRITABLE {
        return Err(PyBufferError::new_err(
            "a sealed vineyard blob is immutable; copy it (bytes(blob)) to get writable memory",
        ));
    }
    let address = if extent.length == 0 {
        &EMPTY as *const u8
    } else {
        extent.address
    };
    // SAFETY: `view` is the non-null `Py_buffer` CPython handed to the exporter (the caller's
    // contract), so every field may be written. `shape` and `strides` point into the view
    // itself, which CPython keeps in place until `PyBuffer_Release`; `format` points at a
    // static string. The reference to `owner` moves into `obj`, which keeps the memory alive.
    unsafe {
        (*view).obj = owner.into_ptr();
        (*view).buf = address as *mut c_void;
        (*view).len = extent.length as isize;
        (*view).readonly = c_int::from(extent.readonly);
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

/// A C-contiguous buffer view of any exporter (bytes, numpy, pyarrow, memoryview, ...).
pub struct ContiguousBuffer {
    view: ffi::Py_buffer,
}

impl ContiguousBuffer {
    /// Asks `data` for a C-contiguous view; non-contiguous exporters fail with a clear error.
    pub fn new(data: &Bound<'_, PyAny>) -> PyResult<ContiguousBuffer> {
        let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::uninit();
        // SAFETY: `data` is a live object (the borrow proves the GIL is held) and `view`
        // points at writable storage for one `Py_buffer`, which CPython fills on success.
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
        // SAFETY: PyObject_GetBuffer returned 0, so it initialised every field of `view`.
        Ok(ContiguousBuffer {
            view: unsafe { view.assume_init() },
        })
    }

    /// Bytes in the view.
    pub fn length(&self) -> usize {
        self.view.len as usize
    }

    /// Address of the first byte.
    pub fn address(&self) -> *const u8 {
        self.view.buf as *const u8
    }

    /// The bytes of the view.
    pub fn bytes(&self) -> &[u8] {
        if self.length() == 0 {
            return &[];
        }
        // SAFETY: the exporter keeps the `length` bytes at `address` valid and in place until
        // the view is released, which happens when `self` drops, after this borrow ends.
        unsafe { std::slice::from_raw_parts(self.address(), self.length()) }
    }
}

impl Drop for ContiguousBuffer {
    fn drop(&mut self) {
        // SAFETY: the view was filled by PyObject_GetBuffer and is released exactly once, here;
        // `attach` holds the interpreter, which PyBuffer_Release needs.
        Python::attach(|_| unsafe { ffi::PyBuffer_Release(&mut self.view) });
    }
}
