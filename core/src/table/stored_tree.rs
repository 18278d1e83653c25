//! A local object's tree as the table keeps it: compact JSON text, members reduced to
//! `{"id": ...}` links.
//!
//! Kept as a `serde_json::Map`, a small tree cost the server's heap far more than its text: a
//! B-tree node (about 640 bytes) per 11 keys and per member link, plus an allocation per key
//! and per string. The text is one allocation of its own length. Reading a tree parses it
//! (`get_tree` copied the map before, which costs about the same); the few fields the table
//! looks at without the whole tree (`typename`, `transient`, `__name`) are read by a parse
//! that skips the rest.

use serde::Deserialize;
use serde_json::{Map, Value};

/// A metadata tree as compact JSON text.
#[derive(Debug)]
pub(super) struct StoredTree(Box<str>);

/// The fields the table reads from a stored tree without parsing it whole.
#[derive(Deserialize, Default)]
struct Flags {
    typename: Option<Value>,
    transient: Option<Value>,
    #[serde(rename = "__name")]
    name: Option<Value>,
}

impl StoredTree {
    /// The text of `tree`.
    pub(super) fn new(tree: &Map<String, Value>) -> StoredTree {
        let text = serde_json::to_string(tree).expect("a JSON map serialises");
        StoredTree(text.into_boxed_str())
    }

    /// The tree, parsed.
    pub(super) fn to_map(&self) -> Map<String, Value> {
        serde_json::from_str(&self.0).expect("the table wrote this text from a map")
    }

    /// Changes the tree: parses it, lets `change` edit it, keeps the new text.
    pub(super) fn update(&mut self, change: impl FnOnce(&mut Map<String, Value>)) {
        let mut tree = self.to_map();
        change(&mut tree);
        *self = StoredTree::new(&tree);
    }

    fn flags(&self) -> Flags {
        serde_json::from_str(&self.0).expect("the table wrote this text from a map")
    }

    /// Its `typename`, if a string.
    pub(super) fn typename(&self) -> Option<String> {
        match self.flags().typename {
            Some(Value::String(typename)) => Some(typename),
            _ => None,
        }
    }

    /// True if it is persisted (`"transient": false`).
    pub(super) fn is_persisted(&self) -> bool {
        self.flags().transient == Some(Value::Bool(false))
    }

    /// Its `__name`, if a string.
    pub(super) fn name(&self) -> Option<String> {
        match self.flags().name {
            Some(Value::String(name)) => Some(name),
            _ => None,
        }
    }

    /// True if the text holds `"text"` (a quoted string): a cheap test before a parse.
    pub(super) fn may_mention(&self, text: &str) -> bool {
        self.0.contains(&format!("\"{text}\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_tree_comes_back_as_it_went_in_numbers_included() {
        let original = tree(json!({
            "typename": "vineyard::Tensor<double>",
            "signature": u64::MAX,
            "ratio": 0.1,
            "small": 1e-300,
            "negative": -7,
            "buffer_": {"id": "o0000000000000001"},
            "text": "quote \" and \\ and \u{1F600}",
        }));
        let stored = StoredTree::new(&original);
        assert_eq!(stored.to_map(), original);
    }

    #[test]
    fn flags_are_read_as_the_map_would_give_them() {
        let mut stored = StoredTree::new(&tree(json!({
            "typename": "t", "transient": true, "__name": "n", "x": {"typename": "inner"},
        })));
        assert_eq!(stored.typename().as_deref(), Some("t"));
        assert!(!stored.is_persisted());
        assert_eq!(stored.name().as_deref(), Some("n"));
        stored.update(|tree| {
            tree.insert("transient".into(), false.into());
            tree.remove("__name");
        });
        assert!(stored.is_persisted());
        assert_eq!(stored.name(), None);
        // Not strings / not bools: as if absent, as the map checks were.
        let odd = StoredTree::new(&tree(
            json!({"typename": 3, "transient": "no", "__name": []}),
        ));
        assert_eq!(
            (odd.typename(), odd.is_persisted(), odd.name()),
            (None, false, None)
        );
    }

    #[test]
    fn may_mention_finds_quoted_ids_only() {
        let stored = StoredTree::new(&tree(json!({"m": {"id": "o00000000000000ab"}})));
        assert!(stored.may_mention("o00000000000000ab"));
        assert!(!stored.may_mention("o00000000000000a"));
    }
}
