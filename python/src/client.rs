//! `IPCClient` for Python: the Rust `IpcClient`, with the GIL released around every call.
//! Metadata trees cross as JSON text; the pure-Python layer owns their Python shape.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;
use vineyard_core::{Blob, Error, InstanceID, IpcClient, ObjectID, ObjectMeta};

use crate::arrow;
use crate::blob::PyBlob;
use crate::buffer::ContiguousBuffer;
use crate::builder::PyBlobBuilder;
use crate::errors::{new_err, to_py};
use crate::json::{dict_of, to_python};
use crate::mapped::MappedBlobs;
use crate::object_id::{extract_id, PyObjectId};
use crate::status::PyInstanceStatus;

/// A connection to one vineyard instance over its UNIX socket.
#[pyclass(name = "IPCClient", module = "vineyard._native", frozen)]
pub struct PyIpcClient {
    client: std::sync::RwLock<Option<IpcClient>>,
    socket: String,
    instance_id: InstanceID,
    /// The blobs this client handed out that are alive, by address (see `find_blob`).
    mapped: Arc<MappedBlobs>,
}

fn parse_tree(text: &str) -> PyResult<ObjectMeta> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        to_py(Error::invalid_metadata(format!(
            "metadata is not valid JSON: {error}"
        )))
    })?;
    ObjectMeta::from_json(value).map_err(to_py)
}

fn tree_text(meta: &ObjectMeta) -> String {
    serde_json::to_string(meta).expect("metadata serialises")
}

fn ids_of(ids: &Bound<'_, PyAny>) -> PyResult<Vec<ObjectID>> {
    ids.try_iter()?.map(|id| extract_id(&id?)).collect()
}

impl PyIpcClient {
    pub(crate) fn client(&self) -> PyResult<IpcClient> {
        self.client
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
            .ok_or_else(|| {
                new_err(
                    vineyard_core::Code::ConnectionError,
                    format!("the client of {} is closed; connect again", self.socket),
                )
            })
    }

    /// Wraps blobs this client read, listing them in its `MappedBlobs`.
    fn wrap(&self, blobs: Vec<Blob>) -> Vec<PyBlob> {
        blobs
            .into_iter()
            .map(|blob| PyBlob::new(blob, self.instance_id, &self.mapped))
            .collect()
    }

    /// Runs `call` on the client with the GIL released, converting errors.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        call: impl FnOnce(&IpcClient) -> vineyard_core::Result<T> + Send,
    ) -> PyResult<T> {
        let client = self.client()?;
        py.detach(move || call(&client)).map_err(to_py)
    }
}

#[pymethods]
impl PyIpcClient {
    /// Connects to the instance listening on `socket`.
    #[new]
    fn new(py: Python<'_>, socket: String) -> PyResult<PyIpcClient> {
        let path = socket.clone();
        let client = py.detach(move || IpcClient::connect(path)).map_err(to_py)?;
        Ok(PyIpcClient {
            instance_id: client.instance_id(),
            client: std::sync::RwLock::new(Some(client)),
            socket,
            mapped: Arc::default(),
        })
    }

    /// The connected instance's id.
    #[getter]
    fn instance_id(&self) -> PyResult<u64> {
        Ok(self.client()?.instance_id())
    }

    /// The id of the blob this client handed out (and that is still alive) whose bytes start
    /// at `address` and are `size` bytes long (with `size` None, any size); None if there is
    /// none. `put` uses it to reuse the blob a buffer from `get` lives in instead of copying.
    #[pyo3(signature = (address, size = None))]
    fn find_blob(&self, address: usize, size: Option<usize>) -> Option<PyObjectId> {
        self.mapped.find(address, size).map(PyObjectId)
    }

    /// The socket path.
    #[getter]
    fn socket(&self) -> &str {
        &self.socket
    }

    /// The instance's RPC endpoint.
    #[getter]
    fn rpc_endpoint(&self) -> PyResult<String> {
        Ok(self.client()?.rpc_endpoint().to_string())
    }

    /// False once closed.
    #[getter]
    fn connected(&self) -> bool {
        self.client
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .is_some()
    }

    /// Allocates a writable blob of `size` bytes.
    fn create_blob(&self, py: Python<'_>, size: usize) -> PyResult<PyBlobBuilder> {
        self.with(py, |client| client.create_blob(size))
            .map(PyBlobBuilder::new)
    }

    /// Maps sealed blobs read-only; fails if any is missing.
    fn get_blobs(&self, py: Python<'_>, ids: &Bound<'_, PyAny>) -> PyResult<Vec<PyBlob>> {
        let ids = ids_of(ids)?;
        let blobs = self.with(py, |client| client.get_blobs(&ids))?;
        Ok(self.wrap(blobs))
    }

    /// Stores a metadata tree (JSON text); returns the new object's `(id, signature,
    /// instance_id)`, the id as the tree spells it (`"o..."`).
    fn create_metadata(&self, py: Python<'_>, tree_json: &str) -> PyResult<(String, u64, u64)> {
        let meta = parse_tree(tree_json)?;
        let created = self.with(py, |client| client.create_metadata(&meta))?;
        Ok(created_fields(&created))
    }

    /// Like `create_metadata`, without waiting for the server when it takes ids its clients
    /// reserve: the create's error, if any, fails this client's next request.
    fn create_metadata_unawaited(
        &self,
        py: Python<'_>,
        tree_json: &str,
    ) -> PyResult<(String, u64, u64)> {
        let meta = parse_tree(tree_json)?;
        let created = self.with(py, |client| client.create_metadata_unawaited(&meta))?;
        Ok(created_fields(&created))
    }

    /// Stores the bytes of a small buffer as a sealed blob without waiting for the server
    /// (when it takes reserved ids); returns the blob's id.
    fn put_blob_unawaited(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<PyObjectId> {
        let source = ContiguousBuffer::new(data)?;
        let bytes = source.bytes();
        let id = self.with(py, |client| client.put_blob_unawaited(bytes))?;
        Ok(PyObjectId(id))
    }

    /// The trees (JSON text) of `ids`; fails if any is missing.
    fn get_metadatas(&self, py: Python<'_>, ids: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let ids = ids_of(ids)?;
        let metas = self.with(py, |client| client.get_metadatas_shared(&ids))?;
        Ok(metas.iter().map(|meta| tree_text(meta)).collect())
    }

    /// The trees (as dicts, like `json.loads` gives) of `ids` and their blobs on this
    /// instance, mapped read-only, in one round trip; fails if any object is missing.
    fn get_objects(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
    ) -> PyResult<(Vec<Py<PyAny>>, Vec<PyBlob>)> {
        let ids = ids_of(ids)?;
        let (metas, blobs) = self.with(py, |client| client.get_objects_shared(&ids))?;
        let trees = metas
            .iter()
            .map(|meta| dict_of(py, meta.as_map()))
            .collect::<PyResult<_>>()?;
        Ok((trees, self.wrap(blobs)))
    }

    /// `get` in one call: fetches the tree of `id` and its local blobs (one round trip, or
    /// none through the index) and, if its typename is an Arrow layout's that
    /// `python_prefixes` (the prefixes of the caller's Python resolvers that claim Arrow
    /// typenames) does not claim, resolves it here: `("arrow", kind, value)`, kind one of `array`,
    /// `record_batch`, `table`, `chunked_array`, `schema`. Otherwise `("tree", trees,
    /// blobs)` as `get_objects` gives them. `member_resolver(tree, blobs)` resolves members
    /// that a Python resolver claims. None for a blob id.
    #[pyo3(signature = (id, python_prefixes, member_resolver = None))]
    fn get_value(
        &self,
        py: Python<'_>,
        id: &Bound<'_, PyAny>,
        python_prefixes: Vec<String>,
        member_resolver: Option<Py<PyAny>>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let id = extract_id(id)?;
        if id.is_blob() {
            return Ok(None);
        }
        let (mut metas, blobs) = self.with(py, |client| client.get_objects_shared(&[id]))?;
        let root = metas.pop().expect("one tree per id");
        let blobs = match arrow::get::resolve_fetched(
            py,
            &root,
            blobs,
            &python_prefixes,
            member_resolver,
            &self.mapped,
            self.instance_id,
        )? {
            arrow::get::Fetched::Resolved(kind, value) => {
                let resolved = ("arrow", kind, value).into_pyobject(py)?;
                return Ok(Some(resolved.into_any().unbind()));
            }
            arrow::get::Fetched::Python(blobs) => blobs,
        };
        let trees = vec![dict_of(py, root.as_map())?];
        let fetched = ("tree", trees, self.wrap(blobs));
        Ok(Some(fetched.into_pyobject(py)?.into_any().unbind()))
    }

    /// Puts an Arrow value exporting the PyCapsule protocol, as `kind` (`array`,
    /// `record_batch`, `table`, `chunked_array` or `schema`); returns the created tree (a
    /// dict). Blobs this client handed out are reused, not copied; a value that cannot be
    /// imported or written leaves the store as it was.
    fn put_arrow(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        kind: &str,
    ) -> PyResult<Py<PyAny>> {
        let created = arrow::put::put_arrow(py, self.client()?, &self.mapped, value, kind)?;
        to_python(py, &serde_json::Value::Object(created.into_map()))
    }

    /// Waits for the replies of requests sent without waiting (seals, creates in `put`).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |client| client.flush())
    }

    /// Ends a `put`: waits for its unawaited requests only if the server would not make
    /// other clients wait for them.
    fn finish_put(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |client| client.finish_put())
    }

    /// Opens an all-or-nothing write on this thread (writes nest; the outermost decides).
    fn begin_write(&self) -> PyResult<()> {
        self.client()?.begin_write();
        Ok(())
    }

    /// Closes this thread's write; when the outermost closes as `failed`, everything it
    /// created is deleted.
    fn end_write(&self, py: Python<'_>, failed: bool) -> PyResult<()> {
        self.with(py, move |client| client.end_write(failed))
    }

    /// Trees (JSON text) whose typename matches a glob or regex.
    fn list_metadatas(
        &self,
        py: Python<'_>,
        pattern: String,
        regex: bool,
        limit: usize,
    ) -> PyResult<Vec<String>> {
        let metas = self.with(py, |client| client.list_metadatas(&pattern, regex, limit))?;
        Ok(metas.iter().map(tree_text).collect())
    }

    /// Deletes objects; returns the ids of the blobs deleted.
    fn delete(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        force: bool,
        deep: bool,
    ) -> PyResult<Vec<PyObjectId>> {
        let ids = ids_of(ids)?;
        let deleted = self.with(py, |client| client.delete(&ids, force, deep))?;
        Ok(deleted.into_iter().map(PyObjectId).collect())
    }

    /// True if the object or sealed blob exists.
    fn exists(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<bool> {
        let id = extract_id(id)?;
        self.with(py, |client| client.exists(id))
    }

    /// Publishes an object to the cluster.
    fn persist(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<()> {
        let id = extract_id(id)?;
        self.with(py, |client| client.persist(id))
    }

    /// Whether an object is persisted.
    fn is_persisted(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<bool> {
        let id = extract_id(id)?;
        self.with(py, |client| client.is_persisted(id))
    }

    /// Names a persisted object.
    fn put_name(&self, py: Python<'_>, id: &Bound<'_, PyAny>, name: String) -> PyResult<()> {
        let id = extract_id(id)?;
        self.with(py, |client| client.put_name(id, &name))
    }

    /// The object a name points at (with `wait`, blocks until it exists).
    #[pyo3(signature = (name, wait = false))]
    fn get_name(&self, py: Python<'_>, name: String, wait: bool) -> PyResult<PyObjectId> {
        self.with(py, |client| client.get_name(&name, wait))
            .map(PyObjectId)
    }

    /// Removes a name.
    fn drop_name(&self, py: Python<'_>, name: String) -> PyResult<()> {
        self.with(py, |client| client.drop_name(&name))
    }

    /// Names matching a glob or regex.
    fn list_names(
        &self,
        py: Python<'_>,
        pattern: String,
        regex: bool,
        limit: usize,
    ) -> PyResult<HashMap<String, PyObjectId>> {
        let names = self.with(py, |client| client.list_names(&pattern, regex, limit))?;
        Ok(names
            .into_iter()
            .map(|(name, id)| (name, PyObjectId(id)))
            .collect())
    }

    /// Memory and connection figures.
    fn status(&self, py: Python<'_>) -> PyResult<PyInstanceStatus> {
        let status = self.with(py, |client| client.status())?;
        Ok(PyInstanceStatus::new(&status))
    }

    /// The cluster's instances, keyed `i<instance id>`.
    fn cluster_meta(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let meta = self.with(py, |client| client.cluster_info())?;
        let meta = serde_json::to_value(meta).expect("the cluster view serialises");
        to_python(py, &meta)
    }

    /// Vineyard's debug command: `payload` (JSON text) is echoed back as a Python value.
    fn debug(&self, py: Python<'_>, payload: &str) -> PyResult<Py<PyAny>> {
        let payload: serde_json::Value = serde_json::from_str(payload).map_err(|error| {
            to_py(Error::invalid(format!(
                "the debug command is not valid JSON: {error}"
            )))
        })?;
        let result = self.with(py, |client| client.debug(payload))?;
        to_python(py, &result)
    }

    /// Gives the instance's free shared memory back to the system; true if any was.
    fn memory_trim(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |client| client.memory_trim())
    }

    /// Deletes every object of the instance.
    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |client| client.clear())
    }

    /// Closes this client (blobs already mapped stay readable).
    fn close(&self) {
        self.client
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
    }

    /// A new, independent connection to the same instance.
    fn reconnect(&self, py: Python<'_>) -> PyResult<PyIpcClient> {
        PyIpcClient::new(py, self.socket.clone())
    }

    fn __repr__(&self) -> String {
        format!("IPCClient <{}>", self.socket)
    }
}

/// `(id, signature, instance_id)` of a created tree, the id as the tree spells it.
fn created_fields(created: &ObjectMeta) -> (String, u64, u64) {
    let id = created.id().expect("created trees have ids");
    let signature = created.get("signature").and_then(|value| value.as_u64());
    let instance = created
        .instance_id()
        .expect("created trees have instance ids");
    (id.to_string(), signature.unwrap_or_default(), instance)
}
