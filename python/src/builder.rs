//! `BlobBuilder`: a writable blob in shared memory, until it is sealed or aborted.
//!
//! # Views
//! The builder exports its memory writable (`memoryview(builder)`, `np.frombuffer(builder,
//! ...)`). Such a view must never outlive the builder's ownership of the range: after
//! `abort()` the server hands the range to other objects, and after `seal()` the blob is
//! immutable and shared. So the builder counts its live exports, and `seal()` / `abort()`
//! refuse (`LiveViewsException`) while any is alive; once the builder is sealed or aborted
//! it exports nothing any more.
//!
//! # Locking
//! The state (the writer and the export count) sits behind one mutex. `copy()` holds it for
//! the whole copy, so an `abort()` from another thread waits for the copy to end instead of
//! freeing the range under it. Every lock is taken with the GIL released (or without
//! waiting), and nothing calls into Python while holding it, so threads cannot deadlock.

use std::ffi::c_int;
use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyMemoryView;
use vineyard_core::{BlobWriter, InstanceID, ObjectID};

use crate::blob::BLOB_TYPENAME;
use crate::buffer::{fill_view, ContiguousBuffer, Extent};
use crate::errors::{live_views_exception, new_err, to_py};
use crate::object_id::PyObjectId;

/// What the builder's lock guards.
struct Writing {
    /// The writer, until sealed or aborted.
    writer: Option<BlobWriter>,
    /// Views exported and not released yet.
    views: usize,
}

/// Why the builder refused to give up its writer.
enum Refusal {
    /// Already sealed or aborted.
    Finished,
    /// This many views are still alive.
    LiveViews(usize),
}

/// A writable buffer in shared memory (writable buffer protocol). Seal or abort it.
#[pyclass(name = "BlobBuilder", module = "vineyard._native", frozen)]
pub struct PyBlobBuilder {
    state: Mutex<Writing>,
    id: ObjectID,
    size: usize,
    address: usize,
    instance_id: InstanceID,
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
            id: writer.id(),
            size: writer.size(),
            address,
            instance_id: writer.instance_id(),
            state: Mutex::new(Writing {
                writer: Some(writer),
                views: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Writing> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Runs `step` under the lock, taken without waiting if it is free, else with the GIL
    /// released (a `copy()` may hold it for long).
    fn locked<T: Send>(&self, py: Python<'_>, step: impl FnOnce(&mut Writing) -> T + Send) -> T {
        match self.state.try_lock() {
            Ok(mut state) => step(&mut state),
            Err(_) => py.detach(|| step(&mut self.lock())),
        }
    }

    /// The writer, for sealing or aborting: refused once finished or while views live.
    fn take(&self, py: Python<'_>, action: &str) -> PyResult<BlobWriter> {
        let taken = self.locked(py, |state| match (state.views, state.writer.take()) {
            (0, Some(writer)) => Ok(writer),
            (_, None) => Err(Refusal::Finished),
            (views, Some(writer)) => {
                state.writer = Some(writer);
                Err(Refusal::LiveViews(views))
            }
        });
        taken.map_err(|refusal| match refusal {
            Refusal::Finished => self.finished(action),
            Refusal::LiveViews(views) => match live_views_exception(py) {
                Ok(class) => PyErr::from_type(
                    class.clone(),
                    format!(
                        "cannot {action} blob {}: {views} view(s) of its memory (memoryview, \
                         numpy array, ...) are still alive and could write into it afterwards; \
                         release them first (`del view`, `view.release()`, or \
                         `with memoryview(builder) as view: ...`)",
                        self.id
                    ),
                ),
                Err(error) => error,
            },
        })
    }

    fn finished(&self, action: &str) -> PyErr {
        new_err(
            vineyard_core::Code::ObjectSealed,
            format!(
                "cannot {action} blob {}: it was already sealed or aborted",
                self.id
            ),
        )
    }
}

#[pymethods]
impl PyBlobBuilder {
    /// The blob's id.
    #[getter]
    fn id(&self) -> PyObjectId {
        PyObjectId(self.id)
    }

    /// Length in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.size
    }

    /// Size in bytes.
    #[getter]
    fn nbytes(&self) -> usize {
        self.size
    }

    /// Address of the first byte in this process (0 when empty).
    #[getter]
    fn address(&self) -> usize {
        self.address
    }

    /// Always `"vineyard::Blob"`.
    #[getter]
    fn typename(&self) -> &'static str {
        BLOB_TYPENAME
    }

    /// The instance the blob is created on.
    #[getter]
    fn instance_id(&self) -> InstanceID {
        self.instance_id
    }

    /// A writable memoryview of the bytes; release it before `seal()` or `abort()`.
    #[getter]
    fn buffer<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyMemoryView>> {
        PyMemoryView::from(slf.as_any())
    }

    fn __len__(&self) -> usize {
        self.size
    }

    fn __repr__(&self) -> String {
        format!("BlobBuilder <\"{}\": {} bytes>", self.id, self.size)
    }

    /// Copies the bytes of any buffer-protocol object to `offset` (GIL released while
    /// copying; a concurrent `abort()` or `seal()` waits for the copy).
    fn copy(&self, py: Python<'_>, offset: usize, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let source = ContiguousBuffer::new(data)?;
        let length = source.length();
        if offset.checked_add(length).is_none_or(|end| end > self.size) {
            return Err(PyValueError::new_err(format!(
                "cannot copy {length} bytes at offset {offset} into a blob of {} bytes",
                self.size
            )));
        }
        let (from, to) = (source.address() as usize, self.address + offset);
        let overlaps = length > 0 && from < to + length && to < from + length;
        let copied = py.detach(|| {
            // Held for the whole copy: the range stays this builder's until it ends.
            let state = self.lock();
            if state.writer.is_none() {
                return false;
            }
            if overlaps {
                // SAFETY: both ranges are `length` bytes of live memory: `source`'s view keeps
                // the source valid, and the destination lies inside this builder's range
                // (checked above), which the server keeps ours while the open writer is held
                // under the lock. They overlap (the source is a view of this builder), so the
                // copy goes through raw pointers with memmove semantics and makes no Rust
                // reference to either range.
                unsafe { std::ptr::copy(from as *const u8, to as *mut u8, length) };
            } else if length > 0 {
                // SAFETY: `source`'s view keeps the `length` source bytes valid; the destination
                // lies inside this builder's range (checked above), does not overlap them, and
                // stays ours while the open writer is held under the lock. Python code writing
                // the same bytes through a view at the same time races on plain bytes only, as
                // with any buffer consumer.
                let (to, from) = unsafe {
                    (
                        std::slice::from_raw_parts_mut(to as *mut u8, length),
                        std::slice::from_raw_parts(from as *const u8, length),
                    )
                };
                vineyard_core::copy_bytes(to, from);
            }
            true
        });
        drop(source);
        if copied {
            Ok(())
        } else {
            Err(self.finished("write"))
        }
    }

    /// Seals the blob: immutable and readable by others from now on. Returns its id, or,
    /// given a client, the sealed `Blob` (`client.get_object(id)`). Fails while views of the
    /// builder are alive.
    #[pyo3(signature = (client = None))]
    fn seal(&self, py: Python<'_>, client: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let writer = self.take(py, "seal")?;
        let id = PyObjectId(py.detach(move || writer.seal()).map_err(to_py)?);
        match client {
            None => Ok(id.into_pyobject(py)?.into_any().unbind()),
            Some(client) => Ok(client.call_method1("get_object", (id,))?.unbind()),
        }
    }

    /// Seals without waiting for the reply: the next request on the client (or `flush()`)
    /// reads it, and fails if the seal did. Returns the id. Fails while views are alive.
    fn seal_before_next_request(&self, py: Python<'_>) -> PyResult<PyObjectId> {
        let writer = self.take(py, "seal")?;
        py.detach(move || writer.seal_before_next_request())
            .map(PyObjectId)
            .map_err(to_py)
    }

    /// Gives the memory back without sealing. Fails while views are alive.
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        let writer = self.take(py, "abort")?;
        py.detach(move || writer.abort()).map_err(to_py)
    }

    /// Exports the memory writable, while the builder is open.
    ///
    /// # Safety
    /// Called by CPython only, with the `view` it owns.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let builder = slf.get();
        let open = builder.locked(slf.py(), |state| {
            let open = state.writer.is_some();
            state.views += usize::from(open);
            open
        });
        if !open {
            return Err(PyBufferError::new_err(format!(
                "blob {} was sealed or aborted: its builder has no memory to export any more; \
                 read a sealed blob with client.get_blob(id)",
                builder.id
            )));
        }
        let extent = Extent {
            address: builder.address as *const u8,
            length: builder.size,
            readonly: false,
        };
        // SAFETY: `view` comes from CPython (our caller's contract). The range stays mapped
        // and this builder's until it is sealed or aborted, which it refuses while the export
        // counted above is alive; the view owns a reference to the builder.
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
