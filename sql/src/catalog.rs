//! The instance as a DataFusion catalog: catalog [`CATALOG`], schema [`SCHEMA`], a table per
//! named Arrow-shaped object, and any Arrow-shaped object under its id (`o` and 16 hex
//! digits, not listed).
//!
//! Every lookup asks the instance for the name, so names put or dropped after a session starts
//! are seen by its next query. Objects are immutable, so what a table is made of (its opened
//! tree: schema, parts, row counts) is kept by object id in an [`OpenedTables`] cache and a
//! repeated query on a large table asks only for its name and whether it still exists, not for
//! its whole tree again. `CREATE TABLE name AS SELECT ...` lands in
//! [`SchemaProvider::register_table`], which stores the result as a named `vineyard::Table`;
//! `DROP TABLE name` drops the name (and the object, unless another object uses it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, MemTable, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};
use vineyard_core::{IpcClient, ObjectID, ObjectMeta};

use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::remote::RemoteReader;
use crate::store::{drop_table, is_missing, named, store_table};
use crate::stored::{is_arrow_shaped, open, StoredObject};
use crate::table::StoredTable;

/// The catalog's name.
pub const CATALOG: &str = "vineyard";
/// The schema's name (the catalog has one).
pub const SCHEMA: &str = "public";

/// Most names listed as tables.
const LIST_LIMIT: usize = 100_000;

/// Most opened tables kept by [`OpenedTables`].
const OPENED_LIMIT: usize = 256;

/// Opened tables by object id. An object never changes once sealed, so an entry stays right
/// for as long as its object exists; past [`OPENED_LIMIT`] entries the cache starts over.
#[derive(Debug, Default)]
struct OpenedTables {
    tables: Mutex<HashMap<ObjectID, StoredObject>>,
}

impl OpenedTables {
    /// The table `id` opened before, under the label `label`.
    fn get(&self, id: ObjectID, label: &str) -> Option<StoredObject> {
        let tables = self
            .tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tables.get(&id).map(|object| StoredObject {
            label: label.to_string(),
            ..object.clone()
        })
    }

    fn keep(&self, object: &StoredObject) {
        let mut tables = self
            .tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if tables.len() >= OPENED_LIMIT {
            tables.clear();
        }
        tables.insert(object.id, object.clone());
    }

    fn forget(&self, id: ObjectID) {
        let mut tables = self
            .tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tables.remove(&id);
    }
}

/// An instance as a DataFusion catalog with one schema, [`SCHEMA`].
#[derive(Debug)]
pub struct VineyardCatalog {
    schema: Arc<VineyardSchema>,
}

impl VineyardCatalog {
    /// The catalog of the instance `client` is connected to; parts of global tables held by
    /// other instances cannot be read (see [`VineyardCatalog::with_remote_reader`]).
    pub fn new(client: IpcClient) -> VineyardCatalog {
        VineyardCatalog::with_reader(client, None)
    }

    /// Like [`VineyardCatalog::new`]; parts held by other instances are read with `reader`.
    pub fn with_remote_reader(client: IpcClient, reader: Arc<dyn RemoteReader>) -> VineyardCatalog {
        VineyardCatalog::with_reader(client, Some(reader))
    }

    fn with_reader(client: IpcClient, reader: Option<Arc<dyn RemoteReader>>) -> VineyardCatalog {
        VineyardCatalog {
            schema: Arc::new(VineyardSchema {
                instance: Instance::new(client, reader),
                opened: Arc::new(OpenedTables::default()),
            }),
        }
    }

    /// The one schema.
    pub fn schema(&self) -> Arc<VineyardSchema> {
        Arc::clone(&self.schema)
    }
}

impl CatalogProvider for VineyardCatalog {
    fn schema_names(&self) -> Vec<String> {
        vec![SCHEMA.to_string()]
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        (name == SCHEMA).then(|| Arc::clone(&self.schema) as Arc<dyn SchemaProvider>)
    }
}

/// The tables of an instance: its named Arrow-shaped objects, and any object by id.
#[derive(Debug)]
pub struct VineyardSchema {
    instance: Instance,
    opened: Arc<OpenedTables>,
}

impl VineyardSchema {
    pub(crate) fn client(&self) -> &IpcClient {
        self.instance.client()
    }

    /// Opens the table `name` (a name, or an object id `o...`), if it exists.
    pub async fn open(&self, name: &str) -> Result<Option<StoredTable>> {
        let label = name.to_string();
        let instance = self.instance.clone();
        let opened = Arc::clone(&self.opened);
        let object = self
            .instance
            .run(move |client| open_cached(client, &opened, &label))
            .await?;
        Ok(object.map(|object| StoredTable::new(instance, object)))
    }
}

/// The table `name` opened, from `opened` when its object was opened before and still exists.
fn open_cached(
    client: &IpcClient,
    opened: &OpenedTables,
    name: &str,
) -> Result<Option<StoredObject>> {
    let label = quoted(name);
    let Some(id) = lookup_id(client, name)? else {
        return Ok(None);
    };
    if let Some(object) = opened.get(id, &label) {
        if client.exists(id)? {
            return Ok(Some(object));
        }
        opened.forget(id);
        return Ok(None);
    }
    let meta = match client.get_metadata(id) {
        Ok(meta) => meta,
        Err(error) if is_missing(&error) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let object = open(client, &label, meta)?;
    opened.keep(&object);
    Ok(Some(object))
}

#[async_trait]
impl SchemaProvider for VineyardSchema {
    fn table_names(&self) -> Vec<String> {
        match self.instance.run_here(list_tables) {
            Ok(names) => names,
            Err(error) => {
                tracing::warn!(%error, "cannot list the instance's tables");
                Vec::new()
            }
        }
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let table = self.open(name).await?;
        Ok(table.map(|table| Arc::new(table) as Arc<dyn TableProvider>))
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let Some(memory) = table.downcast_ref::<MemTable>() else {
            return Err(Error::unsupported(format!(
                "`{name}` cannot be registered in the instance: only CREATE TABLE name AS \
                 SELECT ... stores tables (views and external tables are not supported)"
            ))
            .into());
        };
        let mut batches = Vec::new();
        for partition in &memory.batches {
            let partition = partition.try_read().map_err(|_| {
                DataFusionError::Internal(format!("the rows of `{name}` are being written"))
            })?;
            batches.extend(partition.iter().cloned());
        }
        let schema = memory.schema();
        self.instance
            .run_here(|client| store_table(client, &name, &schema, &batches))?;
        Ok(None)
    }

    fn deregister_table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let dropped = self.instance.run_here(|client| {
            let Some(meta) = lookup(client, name)? else {
                return Ok(None);
            };
            let table = open(client, &quoted(name), meta)?;
            drop_table(client, name)?;
            self.opened.forget(table.id);
            Ok(Some(table))
        })?;
        Ok(dropped.map(|table| {
            Arc::new(StoredTable::new(self.instance.clone(), table)) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.instance
            .run_here(|client| Ok(lookup(client, name)?.is_some()))
            .unwrap_or(false)
    }
}

/// How a table is named in messages.
fn quoted(name: &str) -> String {
    format!("`{name}`")
}

/// An object id as tables name them: `o` and exactly 16 hex digits.
pub(crate) fn table_id(name: &str) -> Option<ObjectID> {
    let hex = name.strip_prefix('o')?;
    if hex.len() != 16 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(ObjectID)
}

/// The object a table name stands for (its id, not checked to exist), if there is one.
fn lookup_id(client: &IpcClient, name: &str) -> Result<Option<ObjectID>> {
    match table_id(name) {
        Some(id) => Ok(Some(id)),
        None => named(client, name),
    }
}

/// The tree of the object a table name stands for, if there is one.
fn lookup(client: &IpcClient, name: &str) -> Result<Option<ObjectMeta>> {
    let Some(id) = lookup_id(client, name)? else {
        return Ok(None);
    };
    match client.get_metadata(id) {
        Ok(meta) => Ok(Some(meta)),
        Err(error) if is_missing(&error) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The names of Arrow-shaped objects, sorted.
fn list_tables(client: &IpcClient) -> Result<Vec<String>> {
    let named = client.list_names("*", false, LIST_LIMIT)?;
    let ids: Vec<ObjectID> = named.iter().map(|(_, id)| *id).collect();
    let metas: Vec<Option<ObjectMeta>> = match client.get_metadatas(&ids) {
        Ok(metas) => metas.into_iter().map(Some).collect(),
        // One was deleted meanwhile: ask for each.
        Err(error) if is_missing(&error) => {
            ids.iter().map(|id| client.get_metadata(*id).ok()).collect()
        }
        Err(error) => return Err(error.into()),
    };
    let mut names: Vec<String> = named
        .into_iter()
        .zip(metas)
        .filter(|(_, meta)| {
            meta.as_ref()
                .and_then(ObjectMeta::typename)
                .is_some_and(is_arrow_shaped)
        })
        .map(|((name, _), _)| name)
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_ids() {
        assert_eq!(table_id("o000000000000002a"), Some(ObjectID(42)));
        assert_eq!(table_id("o2a"), None);
        assert_eq!(table_id("orders_2024_jan_x"), None);
        assert_eq!(table_id("x000000000000002a"), None);
    }
}
