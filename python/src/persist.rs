//! Saving and loading through object_store (`vineyard-persist`), and Vineyard's spilling
//! calls (`evict`, `load`, `unpin`, `is_spilled`), for the Python `IPCClient`. The GIL is
//! released while they run; a progress callback takes it for each report.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use vineyard_core::{IpcClient, ObjectID};
use vineyard_persist::{ExportFormat, LoadOptions, ProgressCallback, SaveOptions};

use crate::client::PyIpcClient;
use crate::errors::to_py;
use crate::object_id::{extract_id, PyObjectId};

/// The progress callback of a call: `None` draws a bar on a terminal, `False` nothing, a
/// callable is called with `(done, total)` bytes (returning `False` or raising stops the
/// operation; what it raised is raised again).
struct Reporting {
    callback: Option<ProgressCallback>,
    bar: bool,
    raised: Arc<Mutex<Option<PyErr>>>,
}

impl Reporting {
    fn new(progress: Option<&Bound<'_, PyAny>>) -> PyResult<Reporting> {
        let raised = Arc::new(Mutex::new(None));
        let Some(progress) = progress.filter(|value| !value.is_none()) else {
            return Ok(Reporting {
                callback: None,
                bar: true,
                raised,
            });
        };
        if let Ok(flag) = progress.extract::<bool>() {
            return Ok(Reporting {
                callback: None,
                bar: flag,
                raised,
            });
        }
        if !progress.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "progress is a callable taking (done, total) bytes, True (a progress bar on a \
                 terminal, the default) or False",
            ));
        }
        let function: Py<PyAny> = progress.clone().unbind();
        let slot = Arc::clone(&raised);
        let callback: ProgressCallback = Arc::new(move |done, total| {
            Python::attach(|py| match function.call1(py, (done, total)) {
                Ok(answer) => !answer.bind(py).is(pyo3::types::PyBool::new(py, false)),
                Err(error) => {
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
                    false
                }
            })
        });
        Ok(Reporting {
            callback: Some(callback),
            bar: false,
            raised,
        })
    }

    /// The error the callback raised, if any, else `error` as a vineyard exception.
    fn error(&self, error: vineyard_persist::Error) -> PyErr {
        match self.raised.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(raised) => raised,
            None => to_py(error.into()),
        }
    }
}

fn storage_map(options: Option<&Bound<'_, PyDict>>) -> PyResult<BTreeMap<String, String>> {
    let mut storage = BTreeMap::new();
    if let Some(options) = options {
        for (key, value) in options.iter() {
            storage.insert(key.extract::<String>()?, value.str()?.to_string());
        }
    }
    Ok(storage)
}

fn export_format(export: Option<&str>) -> PyResult<ExportFormat> {
    match export {
        None | Some("none") => Ok(ExportFormat::None),
        Some("arrow") => Ok(ExportFormat::Arrow),
        Some("parquet") => Ok(ExportFormat::Parquet),
        Some(other) => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "export={other:?} is not known: give 'arrow' (an Arrow IPC file beside each \
             Arrow-shaped object), 'parquet' (a Parquet file) or None"
        ))),
    }
}

fn ids_of(ids: &Bound<'_, PyAny>) -> PyResult<Vec<ObjectID>> {
    ids.try_iter()?.map(|id| extract_id(&id?)).collect()
}

fn saved_dict<'py>(
    py: Python<'py>,
    saved: vineyard_persist::Saved,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    let wrap = |ids: Vec<ObjectID>| ids.into_iter().map(PyObjectId).collect::<Vec<_>>();
    dict.set_item("objects", wrap(saved.objects))?;
    dict.set_item("blobs", saved.blobs)?;
    dict.set_item("bytes", saved.bytes)?;
    dict.set_item("exports", saved.exports)?;
    dict.set_item("skipped", wrap(saved.skipped))?;
    Ok(dict)
}

/// Saves objects (with their members) to `url`; returns what was written.
#[pyfunction]
#[pyo3(signature = (client, ids, url, storage_options = None, export = Some("arrow"), progress = None))]
fn save<'py>(
    py: Python<'py>,
    client: &PyIpcClient,
    ids: &Bound<'py, PyAny>,
    url: &str,
    storage_options: Option<&Bound<'py, PyDict>>,
    export: Option<&str>,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let ids = ids_of(ids)?;
    let reporting = Reporting::new(progress)?;
    let options = SaveOptions {
        storage: storage_map(storage_options)?,
        export: export_format(export)?,
        progress: reporting.callback.clone(),
        bar: reporting.bar,
    };
    let client: IpcClient = client.client()?;
    let saved = py
        .detach(|| vineyard_persist::save(&client, &ids, url, &options))
        .map_err(|error| reporting.error(error))?;
    saved_dict(py, saved)
}

/// Saves every local object and its names to `url`; returns what was written.
#[pyfunction]
#[pyo3(signature = (client, url, storage_options = None, export = Some("arrow"), progress = None))]
fn save_all<'py>(
    py: Python<'py>,
    client: &PyIpcClient,
    url: &str,
    storage_options: Option<&Bound<'py, PyDict>>,
    export: Option<&str>,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let reporting = Reporting::new(progress)?;
    let options = SaveOptions {
        storage: storage_map(storage_options)?,
        export: export_format(export)?,
        progress: reporting.callback.clone(),
        bar: reporting.bar,
    };
    let client: IpcClient = client.client()?;
    let saved = py
        .detach(|| vineyard_persist::save_all(&client, url, &options))
        .map_err(|error| reporting.error(error))?;
    saved_dict(py, saved)
}

/// Loads what was saved at `url`; returns `{"objects": [...], "names": {...}, "bytes": n}`.
#[pyfunction]
#[pyo3(signature = (client, url, name = None, storage_options = None, progress = None))]
fn load<'py>(
    py: Python<'py>,
    client: &PyIpcClient,
    url: &str,
    name: Option<String>,
    storage_options: Option<&Bound<'py, PyDict>>,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let reporting = Reporting::new(progress)?;
    let options = LoadOptions {
        storage: storage_map(storage_options)?,
        name,
        progress: reporting.callback.clone(),
        bar: reporting.bar,
    };
    let client: IpcClient = client.client()?;
    let loaded = py
        .detach(|| vineyard_persist::load(&client, url, &options))
        .map_err(|error| reporting.error(error))?;
    let dict = PyDict::new(py);
    let objects: Vec<PyObjectId> = loaded.objects.into_iter().map(PyObjectId).collect();
    dict.set_item("objects", objects)?;
    let names = PyDict::new(py);
    for (name, id) in loaded.names {
        names.set_item(name, PyObjectId(id))?;
    }
    dict.set_item("names", names)?;
    dict.set_item("bytes", loaded.bytes)?;
    Ok(dict)
}

/// Vineyard's `evict`: spills the blobs of the objects that nobody holds to `--spill_path`.
#[pyfunction]
fn evict(py: Python<'_>, client: &PyIpcClient, ids: &Bound<'_, PyAny>) -> PyResult<()> {
    let ids = ids_of(ids)?;
    let client = client.client()?;
    py.detach(|| client.evict(&ids)).map_err(to_py)
}

/// Vineyard's `load`: brings spilled blobs of the objects back, pinning them if asked.
#[pyfunction]
fn load_spilled(
    py: Python<'_>,
    client: &PyIpcClient,
    ids: &Bound<'_, PyAny>,
    pin: bool,
) -> PyResult<()> {
    let ids = ids_of(ids)?;
    let client = client.client()?;
    py.detach(|| client.load(&ids, pin)).map_err(to_py)
}

/// Vineyard's `unpin`: the objects' blobs may be spilled again.
#[pyfunction]
fn unpin(py: Python<'_>, client: &PyIpcClient, ids: &Bound<'_, PyAny>) -> PyResult<()> {
    let ids = ids_of(ids)?;
    let client = client.client()?;
    py.detach(|| client.unpin(&ids)).map_err(to_py)
}

/// Whether a blob of the object is spilled.
#[pyfunction]
fn is_spilled(py: Python<'_>, client: &PyIpcClient, id: &Bound<'_, PyAny>) -> PyResult<bool> {
    let id = extract_id(id)?;
    let client = client.client()?;
    py.detach(|| client.is_spilled(id)).map_err(to_py)
}

/// Adds the functions to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(save, module)?)?;
    module.add_function(wrap_pyfunction!(save_all, module)?)?;
    module.add_function(wrap_pyfunction!(load, module)?)?;
    module.add_function(wrap_pyfunction!(evict, module)?)?;
    module.add_function(wrap_pyfunction!(load_spilled, module)?)?;
    module.add_function(wrap_pyfunction!(unpin, module)?)?;
    module.add_function(wrap_pyfunction!(is_spilled, module)?)?;
    Ok(())
}
