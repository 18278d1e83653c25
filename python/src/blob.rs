//! `Blob`: a sealed blob mapped read-only, exposing the buffer protocol straight over the
//! shared memory (numpy and pyarrow views copy nothing), with the `Object` surface of the
//! Python package (`typename`, `meta`, `instance_id`, ...).

use std::ffi::c_int;
use std::sync::Arc;

use pyo3::exceptions::PyKeyError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyMemoryView, PyType};
use vineyard_core::{Blob, InstanceID, EMPTY_BLOB_ID};

use crate::buffer::{fill_view, Extent};
use crate::mapped::{Listing, MappedBlobs};
use crate::object_id::PyObjectId;

/// The typename of blobs.
pub const BLOB_TYPENAME: &str = "vineyard::Blob";

/// `vineyard.core.meta.ObjectMeta`, imported on first use.
static OBJECT_META: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The member tree of a blob (`ObjectMeta.blob(id, size, instance_id)`), as the Python
/// package writes it.
pub fn blob_meta<'py>(
    py: Python<'py>,
    id: PyObjectId,
    size: usize,
    instance_id: InstanceID,
) -> PyResult<Bound<'py, PyAny>> {
    OBJECT_META
        .import(py, "vineyard.core.meta", "ObjectMeta")?
        .call_method1("blob", (id, size, instance_id))
}

/// A sealed blob mapped read-only. While it (or any view of it) lives, its bytes stay valid
/// and the server keeps it, even if the object is deleted meanwhile.
#[pyclass(name = "Blob", module = "vineyard._native", frozen)]
pub struct PyBlob {
    blob: Blob,
    instance_id: InstanceID,
    /// Lists the blob in its client's `MappedBlobs` while it lives.
    _listing: Option<Listing>,
}

impl PyBlob {
    /// Wraps a blob `mapped` read by a client of instance `client_instance` (the instance of
    /// the empty blob, which every instance has) and lists it there.
    pub fn new(blob: Blob, client_instance: InstanceID, mapped: &Arc<MappedBlobs>) -> PyBlob {
        let listing = mapped.list(blob.id(), blob.as_ptr() as usize, blob.size());
        PyBlob {
            instance_id: blob.instance_id().unwrap_or(client_instance),
            blob,
            _listing: listing,
        }
    }
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

    /// Always `"vineyard::Blob"`.
    #[getter]
    fn typename(&self) -> &'static str {
        BLOB_TYPENAME
    }

    /// The blob's member tree (`ObjectMeta`): id, size and instance.
    #[getter]
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        blob_meta(py, self.id(), self.blob.size(), self.instance_id)
    }

    /// The instance the blob was read from.
    #[getter]
    fn instance_id(&self) -> InstanceID {
        self.instance_id
    }

    /// Size in bytes.
    #[getter]
    fn nbytes(&self) -> usize {
        self.blob.size()
    }

    /// The empty blob's id for the empty blob, else None (as in Vineyard).
    #[getter]
    fn signature(&self) -> Option<u64> {
        self.blob.is_empty().then_some(EMPTY_BLOB_ID.0)
    }

    /// Always True: a `Blob` is mapped here (a blob elsewhere is a `RemoteBlob`).
    #[getter]
    fn islocal(&self) -> bool {
        true
    }

    /// Always False: blobs are never global objects.
    #[getter]
    fn isglobal(&self) -> bool {
        false
    }

    /// Always False: blobs are persisted only as members of persisted objects.
    #[getter]
    fn ispersist(&self) -> bool {
        false
    }

    /// A read-only memoryview of the bytes.
    #[getter]
    fn buffer<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyMemoryView>> {
        PyMemoryView::from(slf.as_any())
    }

    /// Blobs have no members: always raises `KeyError`.
    fn member(&self, name: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Err(PyKeyError::new_err(format!(
            "a vineyard::Blob has no members (asked for {})",
            name.repr()?
        )))
    }

    fn __len__(&self) -> usize {
        self.blob.size()
    }

    /// Blobs are equal when their ids are (other values compare as not implemented).
    fn __eq__(&self, other: &Self) -> bool {
        self.blob.id() == other.blob.id()
    }

    /// The hash of the id as an int (`hash(int(blob.id))`).
    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.blob.id().0.into_pyobject(py)?.hash()
    }

    /// `Object <"o...": vineyard::Blob>`, as Vineyard prints objects.
    fn __repr__(&self) -> String {
        format!("Object <\"{}\": {BLOB_TYPENAME}>", self.blob.id())
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
            address: slf.get().blob.as_ptr(),
            length: slf.get().blob.size(),
            readonly: true,
        };
        // SAFETY: `view` comes from CPython (our caller's contract). The bytes stay mapped
        // and held on the server while this `Blob` lives, and the view owns a reference to it.
        unsafe { fill_view(view, flags, extent, slf.into_any()) }
    }

    /// Nothing to do: the view's reference to the `Blob` keeps the bytes alive.
    ///
    /// # Safety
    /// Called by CPython only.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}
