//! Trees read from the metadata index, parsed once per entry.
//!
//! Parsing a tree is most of what a `get` from the index costs when the tree is large (a table
//! of many batches: 210 KB of JSON for 1 GiB in 64 batches). An index entry never changes
//! without its slot's sequence number moving on ([`EntryVersion`]), so a tree parsed from one
//! version of an entry is that entry's tree for as long as the index shows the same version:
//! a hit needs no copy and no parse, and can never be stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::meta::ObjectMeta;
use crate::meta_index::{EntryVersion, IndexView, IndexedBlob};

/// Bytes of tree text whose parsed trees a client keeps; past it, trees are dropped (in no
/// particular order) until the new one fits. A parsed tree takes a few times its text.
pub(super) const TREE_CACHE_BUDGET: usize = 8 << 20;

/// One index entry, parsed.
#[derive(Debug)]
pub(super) struct IndexedObject {
    /// The entry this was read from.
    pub version: EntryVersion,
    /// The object's expanded tree.
    pub meta: Arc<ObjectMeta>,
    /// Its blobs (each once), where they lie in the bulk store.
    pub blobs: Vec<IndexedBlob>,
    /// Bytes of the tree's JSON text.
    text_len: usize,
}

/// Parsed entries by object id, within [`TREE_CACHE_BUDGET`].
#[derive(Default)]
pub(super) struct TreeCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<u64, Arc<IndexedObject>>,
    text_len: usize,
}

impl State {
    fn remove(&mut self, id: u64) {
        if let Some(entry) = self.entries.remove(&id) {
            self.text_len -= entry.text_len;
        }
    }

    fn insert(&mut self, id: u64, entry: Arc<IndexedObject>) {
        self.remove(id);
        if entry.text_len > TREE_CACHE_BUDGET {
            return;
        }
        while self.text_len + entry.text_len > TREE_CACHE_BUDGET {
            let Some(&victim) = self.entries.keys().next() else {
                break;
            };
            self.remove(victim);
        }
        self.text_len += entry.text_len;
        self.entries.insert(id, entry);
    }
}

impl TreeCache {
    /// The current entry of `id` in `index`, parsed, or `None` if it is not indexed (or is
    /// being rewritten). Fails if the index holds a tree that is not a JSON object.
    pub fn read(&self, index: &IndexView, id: u64) -> Result<Option<Arc<IndexedObject>>> {
        let Some(version) = index.current(id) else {
            return Ok(None);
        };
        if let Some(entry) = self.lock().entries.get(&id) {
            if entry.version == version {
                return Ok(Some(Arc::clone(entry)));
            }
        }
        let Some(snapshot) = index.read(id) else {
            return Ok(None);
        };
        let tree = serde_json::from_slice(&snapshot.tree).map_err(|error| Error::Protocol {
            message: format!("a tree in the metadata index is not JSON: {error}"),
        })?;
        let entry = Arc::new(IndexedObject {
            version: snapshot.version,
            meta: Arc::new(ObjectMeta::from_json(tree)?),
            blobs: snapshot.blobs,
            text_len: snapshot.tree.len(),
        });
        self.lock().insert(id, Arc::clone(&entry));
        Ok(Some(entry))
    }

    /// Bytes of tree text kept.
    #[cfg(test)]
    fn text_len(&self) -> usize {
        self.lock().text_len
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;
    use crate::meta_index::MetaIndex;

    #[test]
    fn a_tree_is_parsed_once_per_version() {
        let mut index = MetaIndex::create(3, 4096).unwrap();
        let view = IndexView::open(index.file()).unwrap();
        let cache = TreeCache::default();
        assert!(cache.read(&view, 5).unwrap().is_none());
        assert!(index.publish(5, br#"{"typename":"x"}"#, &[]));
        let first = cache.read(&view, 5).unwrap().expect("indexed");
        assert_eq!(first.meta.typename(), Some("x"));
        let again = cache.read(&view, 5).unwrap().unwrap();
        assert!(
            Arc::ptr_eq(&first.meta, &again.meta),
            "a hit is not parsed again"
        );
        // A rewrite of the entry is seen at once, never the old tree.
        assert!(index.publish(5, br#"{"typename":"y"}"#, &[]));
        let rewritten = cache.read(&view, 5).unwrap().unwrap();
        assert_eq!(rewritten.meta.typename(), Some("y"));
        index.withdraw(5);
        assert!(cache.read(&view, 5).unwrap().is_none());
        assert_eq!(cache.text_len(), br#"{"typename":"y"}"#.len());
    }

    #[test]
    fn a_tree_that_is_not_an_object_is_an_error() {
        let mut index = MetaIndex::create(3, 4096).unwrap();
        let view = IndexView::open(index.file()).unwrap();
        let cache = TreeCache::default();
        assert!(index.publish(5, b"[1, 2]", &[]));
        assert!(cache.read(&view, 5).is_err());
        assert!(index.publish(6, b"{not json", &[]));
        let error = cache.read(&view, 6).unwrap_err().to_string();
        assert!(error.contains("not JSON"), "{error}");
    }

    #[test]
    fn the_cache_stays_within_its_budget() {
        let mut index = MetaIndex::create(3, 4096).unwrap();
        let view = IndexView::open(index.file()).unwrap();
        let cache = TreeCache::default();
        let filler = "x".repeat(200 << 10);
        let tree = format!(r#"{{"typename":"{filler}"}}"#);
        let count = 2 * TREE_CACHE_BUDGET / tree.len();
        for id in 1..=count as u64 {
            assert!(index.publish(id, tree.as_bytes(), &[]), "entry {id}");
            assert!(cache.read(&view, id).unwrap().is_some());
            assert!(cache.text_len() <= TREE_CACHE_BUDGET);
        }
        assert!(cache.text_len() > TREE_CACHE_BUDGET - tree.len());
        // The newest tree is always kept.
        let newest = cache.read(&view, count as u64).unwrap().unwrap();
        let again = cache.read(&view, count as u64).unwrap().unwrap();
        assert!(Arc::ptr_eq(&newest.meta, &again.meta));
    }
}
