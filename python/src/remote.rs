//! `RemoteBlobBuilder` and `RemoteBlob`: blob bytes in this process's own memory, for clients
//! of an instance elsewhere (Vineyard's names, `from vineyard import RemoteBlobBuilder`).
//!
//! A `RemoteBlobBuilder` is filled here (`copy`, or a writable view) or wraps an existing
//! buffer without copying (`RemoteBlobBuilder.wrap(data)`); a remote client's
//! `create_remote_blob(builder)` sends its bytes. A `RemoteBlob` is a blob's bytes received
//! from a remote instance, read-only, with the blob surface (`id`, `size`, `typename`, ...).
//! The remote client holds a blob received in one message as it is (`RemoteBlob.from_buffer`,
//! no copy), and fills a builder with the chunks of a larger one and freezes it into a
//! `RemoteBlob` (`RemoteBlob.from_builder`), so each byte is copied once.
//!
//! Like `BlobBuilder`, a builder counts the writable views it exports and refuses to be
//! aborted or frozen while one is alive, so no view outlives the memory it points at.

use std::ffi::c_int;
use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyMemoryView;
use vineyard_core::{InstanceID, ObjectID, EMPTY_BLOB_ID};

use crate::blob::BLOB_TYPENAME;
use crate::buffer::{fill_view, ContiguousBuffer, Extent};
use crate::errors::new_err;
use crate::object_id::PyObjectId;

/// What a builder's lock guards.
struct Building {
    /// The bytes, until aborted or frozen (never reallocated, so views may point into them).
    bytes: Option<Vec<u8>>,
    /// Writable views exported and not released yet.
    views: usize,
}

/// Bytes of a blob to create on a remote instance: filled here, or wrapping a buffer.
#[pyclass(
    name = "RemoteBlobBuilder",
    module = "vineyard._native",
    frozen,
    subclass
)]
pub struct PyRemoteBlobBuilder {
    state: Mutex<Building>,
    size: usize,
    /// The buffer wrapped instead of owned bytes (`wrap`), read-only.
    wrapped: Option<Py<PyAny>>,
}

impl PyRemoteBlobBuilder {
    fn lock(&self) -> MutexGuard<'_, Building> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Runs `step` under the lock, taken without waiting if it is free, else with the GIL
    /// released (a `copy()` may hold it for long).
    fn locked<T: Send>(&self, py: Python<'_>, step: impl FnOnce(&mut Building) -> T + Send) -> T {
        match self.state.try_lock() {
            Ok(mut state) => step(&mut state),
            Err(_) => py.detach(|| step(&mut self.lock())),
        }
    }

    /// Takes the bytes out (to freeze them): refused while views live or once gone.
    fn take_bytes(&self, py: Python<'_>, action: &str) -> PyResult<Vec<u8>> {
        if let Some(wrapped) = &self.wrapped {
            return Ok(ContiguousBuffer::new(wrapped.bind(py))?.bytes().to_vec());
        }
        let taken = self.locked(py, |state| match state.views {
            0 => Ok(state.bytes.take()),
            views => Err(views),
        });
        match taken {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(self.gone(action)),
            Err(views) => Err(PyBufferError::new_err(format!(
                "cannot {action} the remote blob builder: {views} view(s) of its memory are \
                 still alive; release them first"
            ))),
        }
    }

    fn gone(&self, action: &str) -> PyErr {
        new_err(
            vineyard_core::Code::ObjectSealed,
            format!("cannot {action} the remote blob builder: it was already sent or aborted"),
        )
    }
}

#[pymethods]
impl PyRemoteBlobBuilder {
    /// A builder of `size` zeroed bytes.
    #[new]
    fn new(size: usize) -> PyRemoteBlobBuilder {
        PyRemoteBlobBuilder {
            state: Mutex::new(Building {
                bytes: Some(vec![0u8; size]),
                views: 0,
            }),
            size,
            wrapped: None,
        }
    }

    /// A builder over the bytes of `data` (any C-contiguous buffer), not copied: `data` must
    /// not change until the blob is created.
    #[staticmethod]
    fn wrap(data: &Bound<'_, PyAny>) -> PyResult<PyRemoteBlobBuilder> {
        let size = ContiguousBuffer::new(data)?.length();
        Ok(PyRemoteBlobBuilder {
            state: Mutex::new(Building {
                bytes: None,
                views: 0,
            }),
            size,
            wrapped: Some(data.clone().unbind()),
        })
    }

    /// Length in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.size
    }

    /// Length in bytes.
    #[getter]
    fn nbytes(&self) -> usize {
        self.size
    }

    /// Always `"vineyard::Blob"`.
    #[getter]
    fn typename(&self) -> &'static str {
        BLOB_TYPENAME
    }

    /// True if the builder wraps a buffer (`wrap`) instead of owning its bytes.
    #[getter]
    fn wrapped(&self) -> bool {
        self.wrapped.is_some()
    }

    /// A memoryview of the bytes: writable for an owned builder, the wrapped buffer's own
    /// (read-only here) for a wrapping one.
    #[getter]
    fn buffer<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyMemoryView>> {
        match &slf.get().wrapped {
            Some(wrapped) => {
                let view = PyMemoryView::from(wrapped.bind(slf.py()))?;
                Ok(view.call_method0("toreadonly")?.cast_into()?)
            }
            None => PyMemoryView::from(slf.as_any()),
        }
    }

    fn __len__(&self) -> usize {
        self.size
    }

    fn __repr__(&self) -> String {
        format!("RemoteBlobBuilder <{} bytes>", self.size)
    }

    /// Copies bytes to `offset`: from any buffer-protocol object, or `size` bytes from the
    /// address `data` (an int) in this process (GIL released while copying).
    #[pyo3(signature = (offset, data, size = None))]
    fn copy(
        &self,
        py: Python<'_>,
        offset: usize,
        data: &Bound<'_, PyAny>,
        size: Option<usize>,
    ) -> PyResult<()> {
        if self.wrapped.is_some() {
            return Err(PyValueError::new_err(
                "a RemoteBlobBuilder made with wrap() is read-only: it sends the wrapped bytes",
            ));
        }
        let source = match data.extract::<usize>() {
            Ok(address) => {
                let Some(length) = size else {
                    return Err(PyValueError::new_err(
                        "copy(offset, address, size) needs the size when copying from an address",
                    ));
                };
                (address, length, None)
            }
            Err(_) => {
                let buffer = ContiguousBuffer::new(data)?;
                let length = size.unwrap_or(buffer.length()).min(buffer.length());
                (buffer.address() as usize, length, Some(buffer))
            }
        };
        let (from, length, buffer) = source;
        if offset.checked_add(length).is_none_or(|end| end > self.size) {
            return Err(PyValueError::new_err(format!(
                "cannot copy {length} bytes at offset {offset} into a remote blob of {} bytes",
                self.size
            )));
        }
        let copied = py.detach(|| {
            let mut state = self.lock();
            let Some(bytes) = state.bytes.as_mut() else {
                return false;
            };
            if length > 0 {
                // SAFETY: the source is `length` readable bytes: a buffer view kept alive by
                // `buffer` until after the copy, or memory the caller vouched for by passing
                // its address and size (as with Vineyard's `copy(offset, address, size)`).
                // The destination is inside the builder's own bytes (bounds checked above),
                // held under the lock; the ranges may overlap only if the source is a view of
                // this builder, hence `copy` (memmove) through raw pointers.
                unsafe {
                    std::ptr::copy(from as *const u8, bytes.as_mut_ptr().add(offset), length)
                };
            }
            true
        });
        drop(buffer);
        if copied {
            Ok(())
        } else {
            Err(self.gone("write into"))
        }
    }

    /// Gives the bytes back without sending them. Fails while views are alive.
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        if self.wrapped.is_none() {
            self.take_bytes(py, "abort")?;
        }
        Ok(())
    }

    /// Exports the owned bytes writable.
    ///
    /// # Safety
    /// Called by CPython only, with the `view` it owns.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let builder = slf.get();
        if builder.wrapped.is_some() {
            return Err(PyBufferError::new_err(
                "a RemoteBlobBuilder made with wrap() exports nothing: read the wrapped data, \
                 or builder.buffer",
            ));
        }
        let exported = builder.locked(slf.py(), |state| {
            let address = state
                .bytes
                .as_mut()
                .map(|bytes| bytes.as_mut_ptr() as usize);
            state.views += usize::from(address.is_some());
            address
        });
        let Some(address) = exported else {
            return Err(PyBufferError::new_err(
                "the remote blob builder was sent or aborted: it has no memory any more",
            ));
        };
        let address = address as *const u8;
        let extent = Extent {
            address,
            length: builder.size,
            readonly: false,
        };
        // SAFETY: `view` comes from CPython (our caller's contract). The bytes are never
        // reallocated and are not freed while the export counted above is alive (`abort` and
        // freezing refuse); the view owns a reference to the builder.
        let filled = unsafe { fill_view(view, flags, extent, slf.clone().into_any()) };
        if filled.is_err() {
            builder.locked(slf.py(), |state| state.views -= 1);
        }
        filled
    }

    /// Counts the export released.
    ///
    /// # Safety
    /// Called by CPython only, once per successful `__getbuffer__`.
    unsafe fn __releasebuffer__(slf: Bound<'_, Self>, _view: *mut ffi::Py_buffer) {
        slf.get().locked(slf.py(), |state| {
            state.views = state.views.saturating_sub(1)
        });
    }
}

/// The memory of a `RemoteBlob`.
enum Received {
    /// Bytes it owns (a builder's, taken over).
    Owned(Vec<u8>),
    /// A view of another object's buffer (a received message's), held for the blob's life.
    Viewed(HeldView),
}

/// A buffer view a `RemoteBlob` holds.
struct HeldView(ContiguousBuffer);

// SAFETY: the view is only read (its address and length), and the exporter keeps its memory
// valid and in place until the view is released, which `ContiguousBuffer`'s drop does with
// the interpreter attached, from whichever thread drops the blob. The exporter must not
// change the bytes meanwhile (`from_buffer`'s contract, as for `RemoteBlobBuilder.wrap`).
unsafe impl Send for HeldView {}
// SAFETY: as above: shared references only read the address and length.
unsafe impl Sync for HeldView {}

impl Received {
    fn bytes(&self) -> &[u8] {
        match self {
            Received::Owned(bytes) => bytes,
            Received::Viewed(HeldView(view)) => view.bytes(),
        }
    }
}

/// A blob's bytes received from a remote instance: read-only, with the blob surface.
#[pyclass(name = "RemoteBlob", module = "vineyard._native", frozen)]
pub struct PyRemoteBlob {
    id: ObjectID,
    instance_id: InstanceID,
    received: Received,
}

impl PyRemoteBlob {
    fn bytes(&self) -> &[u8] {
        self.received.bytes()
    }
}

#[pymethods]
impl PyRemoteBlob {
    /// The blob `object_id` of instance `instance_id`, holding the bytes of `builder` (taken
    /// over, not copied; the builder is spent).
    #[staticmethod]
    fn from_builder(
        py: Python<'_>,
        builder: &Bound<'_, PyRemoteBlobBuilder>,
        object_id: PyObjectId,
        instance_id: InstanceID,
    ) -> PyResult<PyRemoteBlob> {
        let bytes = builder.get().take_bytes(py, "freeze")?;
        Ok(PyRemoteBlob {
            id: object_id.0,
            instance_id,
            received: Received::Owned(bytes),
        })
    }

    /// The blob `object_id` of instance `instance_id`, holding the bytes of `data` (any
    /// C-contiguous buffer, such as a received Arrow buffer) without copying them: `data`
    /// must not change while the blob lives.
    #[staticmethod]
    fn from_buffer(
        data: &Bound<'_, PyAny>,
        object_id: PyObjectId,
        instance_id: InstanceID,
    ) -> PyResult<PyRemoteBlob> {
        Ok(PyRemoteBlob {
            id: object_id.0,
            instance_id,
            received: Received::Viewed(HeldView(ContiguousBuffer::new(data)?)),
        })
    }

    /// The blob's id.
    #[getter]
    fn id(&self) -> PyObjectId {
        PyObjectId(self.id)
    }

    /// Length in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.bytes().len()
    }

    /// Length in bytes.
    #[getter]
    fn nbytes(&self) -> usize {
        self.bytes().len()
    }

    /// Length in bytes.
    #[getter]
    fn length(&self) -> usize {
        self.bytes().len()
    }

    /// The instance the blob lives on.
    #[getter]
    fn instance_id(&self) -> InstanceID {
        self.instance_id
    }

    /// True for the empty blob.
    #[getter]
    fn is_empty(&self) -> bool {
        self.id == EMPTY_BLOB_ID
    }

    /// Always `"vineyard::Blob"`.
    #[getter]
    fn typename(&self) -> &'static str {
        BLOB_TYPENAME
    }

    /// Address of the first byte in this process.
    #[getter]
    fn address(&self) -> usize {
        self.bytes().as_ptr() as usize
    }

    /// A read-only memoryview of the bytes.
    #[getter]
    fn buffer<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyMemoryView>> {
        PyMemoryView::from(slf.as_any())
    }

    fn __len__(&self) -> usize {
        self.bytes().len()
    }

    fn __repr__(&self) -> String {
        format!("RemoteBlob <\"{}\": {} bytes>", self.id, self.bytes().len())
    }

    /// Exports the bytes read-only.
    ///
    /// # Safety
    /// Called by CPython only, with the `view` it owns.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let extent = Extent {
            address: slf.get().bytes().as_ptr(),
            length: slf.get().bytes().len(),
            readonly: true,
        };
        // SAFETY: `view` comes from CPython (our caller's contract). The bytes are owned by
        // this frozen object (or a view it holds), never change or move, and live as long as
        // the view's reference to it.
        unsafe { fill_view(view, flags, extent, slf.into_any()) }
    }

    /// Nothing to do: the view's reference keeps the bytes alive.
    ///
    /// # Safety
    /// Called by CPython only.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}
