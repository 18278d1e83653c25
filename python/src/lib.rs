//! `vineyard._native`: the Rust core of the `vineyard` Python package.
//!
//! # Layout
//! - `client`: `IPCClient` over the core's synchronous `IpcClient` (GIL released per call).
//! - `arrow`: Arrow values across the C Data Interface: `get` resolved by `vineyard-resolvers`
//!   into objects exporting the PyCapsule protocol, `put` imported for `vineyard-builders`.
//! - `blob`: `Blob`, a sealed blob with the buffer protocol over shared memory and the
//!   `Object` surface (`typename`, `meta`, `instance_id`, ...).
//! - `builder`: `BlobBuilder`, a writable blob; it counts the views it exports and refuses to
//!   be sealed or aborted while one is alive.
//! - `buffer`: the buffer protocol at the edge (filling exported views, reading any buffer).
//! - `mapped`: which blobs a client handed out, by address, so `put` can reuse them.
//! - `remote`: `RemoteBlobBuilder` and `RemoteBlob`, blob bytes in this process for remote
//!   clients.
//! - `object_id`: `ObjectID`.
//! - `persist`: `save`, `load` and `save_all` through object_store (`vineyard-persist`), with
//!   a progress callback.
//! - `status`: `InstanceStatus`, the core's struct as a Python object.
//! - `errors`: `VineyardException` and its subclasses.
//! - `json`: JSON values to Python objects.
//! - `run_server`: `python -m vineyard` runs the server linked into this module, with its
//!   Arrow Flight service.

#![warn(missing_docs)]

mod arrow;
mod blob;
mod buffer;
mod builder;
mod client;
mod errors;
mod json;
mod mapped;
mod object_id;
mod persist;
mod remote;
mod status;

use pyo3::prelude::*;

/// Runs a vineyard instance with vineyardd's flags until SIGINT or SIGTERM; returns the exit
/// code. The GIL is released while it runs.
#[pyfunction]
fn run_server(py: Python<'_>, args: Vec<String>) -> i32 {
    let argv: Vec<String> = std::iter::once("vineyard".to_string())
        .chain(args)
        .collect();
    py.detach(move || {
        vineyard_core::server::cli::run_with_restorer(
            argv,
            Some(Box::new(vineyard_flight_server::FlightService::new())),
            Some(std::sync::Arc::new(vineyard_persist::SnapshotRestorer)),
        )
    })
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The built-in layouts (`vineyard-layout`), which `vineyard.data.layout` turns into namespaces.
    let layouts = json::to_python(module.py(), &vineyard_layout::table_json())?;
    module.add("LAYOUT_TABLE", layouts)?;
    module.add_class::<object_id::PyObjectId>()?;
    module.add_class::<blob::PyBlob>()?;
    module.add_class::<builder::PyBlobBuilder>()?;
    module.add_class::<client::PyIpcClient>()?;
    module.add_class::<remote::PyRemoteBlobBuilder>()?;
    module.add_class::<remote::PyRemoteBlob>()?;
    module.add_class::<status::PyInstanceStatus>()?;
    module.add_function(wrap_pyfunction!(run_server, module)?)?;
    persist::register(module)?;
    arrow::register(module)?;
    errors::register(module)?;
    Ok(())
}
