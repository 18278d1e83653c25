//! Arrow values across the Arrow C Data Interface, through the PyCapsule protocol
//! (`__arrow_c_schema__`, `__arrow_c_array__`, `__arrow_c_stream__`).
//!
//! `get` of an Arrow-shaped object is resolved here by `vineyard-resolvers`, over the whole
//! tree in one call, and handed to Python as an object that exports itself through those
//! methods, its buffers pointing into the shared memory (pyarrow, polars, DuckDB, pandas and
//! DataFusion read it without a copy; the blobs stay held until the last consumer releases
//! them). `put` of an object that exports itself is imported here and written by
//! `vineyard-builders`.
//!
//! # Layout
//! - `capsule`: the capsules of the protocol, made and taken.
//! - `check`: an imported C Data array checked against its type before Arrow reads it.
//! - `import`: Python Arrow values into Rust arrays, batches and streams.
//! - `export`: `ArrowArray`, `ArrowRecordBatch`, `ArrowTable`, what Python receives.
//! - `listed`: the blob source of a `get`, whose buffers list their blobs for reuse by `put`.
//! - `get`: resolving a fetched tree, with Python resolvers taking precedence where the
//!   current context registers one.
//! - `put`: `put_arrow`, the builders over an imported value.

mod capsule;
mod check;
pub mod export;
pub mod get;
mod import;
mod listed;
pub mod put;

use pyo3::prelude::*;

/// Adds the Arrow classes and the typename prefixes of the Arrow layouts to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<export::PyArrowArray>()?;
    module.add_class::<export::PyArrowRecordBatch>()?;
    module.add_class::<export::PyArrowTable>()?;
    module.add("ARROW_PREFIXES", vineyard_resolvers::arrow_prefixes())?;
    Ok(())
}
