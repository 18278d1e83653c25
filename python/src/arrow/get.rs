//! `get` of an Arrow-shaped object: the fetched tree resolved by `vineyard-resolvers` in one
//! call, handed to Python as an `ArrowArray`, `ArrowRecordBatch` or `ArrowTable`.
//!
//! Python resolvers take precedence, as in the Python package's contexts: the caller names
//! the typename prefixes of its context's Python resolvers that claim Arrow typenames (those
//! that extend an Arrow layout's prefix; a shorter one never beats the layout's own). The
//! object is resolved here only if its typename's longest matching prefix is one of the Arrow
//! layouts' ([`vineyard_resolvers::arrow_prefixes`]); a member whose typename a Python
//! resolver claims (say a user's resolver for `vineyard::NumericArray<int64>`, inside a
//! table) is resolved by calling back into Python, and must come back as an Arrow array.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;
use vineyard_core::client::hold_together;
use vineyard_core::{Blob, Code, InstanceID, ObjectMeta};
use vineyard_layout::{CHUNKED_ARRAY, SCHEMA_PROXY};
use vineyard_resolvers::{
    arrow_prefixes, blob_ids, default_registry, BlobSource, Error, FetchedBlobs, Resolved,
    ResolverRegistry,
};

use super::export::{PyArrowArray, PyArrowRecordBatch, PyArrowTable};
use super::import;
use super::listed::ListedBlobs;
use crate::blob::PyBlob;
use crate::errors::{new_err, to_py};
use crate::json::dict_of;
use crate::mapped::MappedBlobs;

/// The length of the longest of `prefixes` that `typename` starts with.
fn longest<'a>(typename: &str, prefixes: impl IntoIterator<Item = &'a str>) -> Option<usize> {
    prefixes
        .into_iter()
        .filter(|prefix| typename.starts_with(prefix))
        .map(str::len)
        .max()
}

/// True if the object of `typename` is resolved here: an Arrow layout's prefix matches it
/// better than every prefix the Python context claims (a tie goes to Python: its
/// registration replaced the built-in one).
pub fn resolved_natively(typename: &str, python_prefixes: &[String]) -> bool {
    let native = longest(typename, arrow_prefixes());
    let python = longest(typename, python_prefixes.iter().map(String::as_str));
    match (native, python) {
        (Some(native), Some(python)) => native > python,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// True if every blob the tree names was fetched (is on this instance).
fn all_blobs_here(meta: &ObjectMeta, fetched: &FetchedBlobs) -> bool {
    meta.members().all(|(_, member)| {
        let member = ObjectMeta::from_map_ref(member);
        if member.is_blob() {
            member.id().is_some_and(|id| fetched.get(id).is_some())
        } else {
            all_blobs_here(member, fetched)
        }
    })
}

/// A resolver error as the Python exception of its kind.
pub fn resolve_error(error: Error) -> PyErr {
    let code = match &error {
        Error::Core(_) => {
            let Error::Core(core) = error else {
                unreachable!()
            };
            return to_py(core);
        }
        Error::UnsupportedType { .. } | Error::UnexpectedShape { .. } => Code::TypeError,
        Error::UnsupportedValue { .. } => Code::NotImplemented,
        Error::MissingMember { .. } | Error::InvalidField { .. } => Code::MetaTreeInvalid,
        Error::Arrow(_) => Code::ArrowError,
        _ => Code::Invalid,
    };
    new_err(code, error.to_string())
}

/// What a Python resolver gave for a member, as an Arrow array.
fn member_value(
    py: Python<'_>,
    callback: &Py<PyAny>,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
    mapped: &Arc<MappedBlobs>,
    instance: InstanceID,
) -> PyResult<Resolved> {
    let mut ids = Vec::new();
    blob_ids(meta, &mut ids);
    let blobs: Vec<Blob> = source.blobs(&ids).map_err(to_py)?;
    let blobs = PyList::new(
        py,
        blobs
            .into_iter()
            .map(|blob| PyBlob::new(blob, instance, mapped)),
    )?;
    let tree = dict_of(py, meta.as_map())?;
    let value = callback.bind(py).call1((tree, blobs))?;
    if !value.hasattr("__arrow_c_array__")? {
        return Err(new_err(
            Code::TypeError,
            format!(
                "the Python resolver of `{}` gave a {}, which has no `__arrow_c_array__`; inside \
                 an Arrow table, record batch or array, a member must resolve to an Arrow array",
                meta.typename().unwrap_or_default(),
                value.get_type().name()?
            ),
        ));
    }
    Ok(Resolved::Array(import::array(&value)?.1))
}

/// The registry for a context whose Python resolvers claim `python_prefixes`: the default one,
/// plus a call back into Python (`callback(tree, blobs)`) for each of those prefixes.
fn registry_for(
    python_prefixes: &[String],
    callback: Option<Py<PyAny>>,
    mapped: &Arc<MappedBlobs>,
    instance: InstanceID,
) -> Option<ResolverRegistry> {
    let callback = callback?;
    if python_prefixes.is_empty() {
        return None;
    }
    let mut registry = ResolverRegistry::with_defaults();
    let callback = Arc::new(callback);
    for prefix in python_prefixes {
        let (callback, mapped) = (Arc::clone(&callback), Arc::clone(mapped));
        registry.register(
            prefix.clone(),
            Box::new(move |_, source, meta| {
                Python::attach(|py| member_value(py, &callback, source, meta, &mapped, instance))
                    .map_err(|error| Error::UnsupportedValue {
                        typename: meta.typename().unwrap_or_default().into(),
                        id: meta.id(),
                        reason: format!("its Python resolver failed: {error}"),
                    })
            }),
        );
    }
    Some(registry)
}

/// What Python gets for a resolved root of `typename`: `(kind, value)`.
fn to_value(
    py: Python<'_>,
    typename: &str,
    resolved: Resolved,
) -> PyResult<(&'static str, Py<PyAny>)> {
    Ok(match resolved {
        Resolved::Array(array) => ("array", Py::new(py, PyArrowArray::new(array))?.into_any()),
        Resolved::RecordBatch(batch) => (
            "record_batch",
            Py::new(py, PyArrowRecordBatch::new(batch))?.into_any(),
        ),
        Resolved::Table { schema, batches } => {
            let kind = if typename.starts_with(CHUNKED_ARRAY.typename) {
                "chunked_array"
            } else if typename.starts_with(SCHEMA_PROXY.typename) {
                "schema"
            } else {
                "table"
            };
            (
                kind,
                Py::new(py, PyArrowTable::new(schema, batches))?.into_any(),
            )
        }
        other => {
            return Err(new_err(
                Code::TypeError,
                format!("`{typename}` resolved to {}, not Arrow data", other.kind()),
            ))
        }
    })
}

/// What `resolve_fetched` gives: the value resolved here, or the blobs back for Python.
pub enum Fetched {
    /// `(kind, value)` for Python.
    Resolved(&'static str, Py<PyAny>),
    /// Not resolved here: Python resolves the tree over these blobs.
    Python(Vec<Blob>),
}

/// Resolves a fetched root here if its typename is an Arrow layout's that the Python context
/// does not claim and all its blobs are on this instance; else gives the blobs back (Python
/// resolves the tree). The blobs of a value resolved here share one hold, released in one
/// write once the last buffer over any of them is gone.
pub fn resolve_fetched(
    py: Python<'_>,
    root: &ObjectMeta,
    blobs: Vec<Blob>,
    python_prefixes: &[String],
    callback: Option<Py<PyAny>>,
    mapped: &Arc<MappedBlobs>,
    instance: InstanceID,
) -> PyResult<Fetched> {
    let typename = root.typename().unwrap_or_default();
    if !resolved_natively(typename, python_prefixes) {
        return Ok(Fetched::Python(blobs));
    }
    let custom = registry_for(python_prefixes, callback, mapped, instance);
    let blobs = hold_together(blobs);
    let source = ListedBlobs {
        fetched: FetchedBlobs::new(blobs.iter().cloned()),
        mapped: Arc::clone(mapped),
    };
    // Members elsewhere (blobs not fetched): Python's path gives None for them. With Python
    // resolvers in the registry, look before resolving (they must not run twice); the
    // built-in ones just stop at the first blob missing.
    if custom.is_some() && !all_blobs_here(root, &source.fetched) {
        return Ok(Fetched::Python(blobs));
    }
    let registry = custom.as_ref().unwrap_or_else(|| default_registry());
    let resolved = match registry.resolve(&source, root) {
        Ok(resolved) => resolved,
        Err(Error::Core(vineyard_core::Error::ObjectNotExists { id }))
            if source.fetched.get(id).is_none() =>
        {
            return Ok(Fetched::Python(blobs));
        }
        Err(error) => return Err(resolve_error(error)),
    };
    let (kind, value) = to_value(py, typename, resolved)?;
    Ok(Fetched::Resolved(kind, value))
}
