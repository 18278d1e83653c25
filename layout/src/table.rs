//! The table's shape: a [`Layout`] per built-in layout, the [`Name`]s of its tree, how numbered
//! and keyed members are spelled ([`MemberList`], [`MemberMap`]), and [`layouts`] and [`find`]
//! over the whole table.

use crate::{arrow_layout, base, pandas, tensor};

/// Between a list's (or map's) name and what follows: `__elements_-0`, `__elements_-size`.
pub const ITEM_SEPARATOR: &str = "-";
/// The item of a list or map that holds its length: `__elements_-size`.
pub const SIZE_ITEM: &str = "size";
/// The item of a map entry's key: `__values_-key-0`.
pub const MAP_KEY_ITEM: &str = "key";
/// The item of a map entry's value: `__values_-value-0`.
pub const MAP_VALUE_ITEM: &str = "value";

/// What a name is in a layout's tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A member: the tree of another object (often a blob).
    Member,
    /// A plain field: a number, a flag or text.
    Field,
    /// Numbered members with their count (a [`MemberList`]).
    List,
    /// Numbered members keyed by labels, with their count (a [`MemberMap`]).
    Map,
}

impl Role {
    /// The role's name in [`crate::table_json`]'s groups: `members`, `fields`, `lists`, `maps`.
    pub const fn group(self) -> &'static str {
        match self {
            Role::Member => "members",
            Role::Field => "fields",
            Role::List => "lists",
            Role::Map => "maps",
        }
    }
}

/// One name of a layout's tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name {
    /// What Rust and Python call it: `TENSOR.buffer`.
    pub attribute: &'static str,
    /// What it is.
    pub role: Role,
    /// How the tree spells it: `buffer_` (for lists and maps, the name before the items).
    pub spelled: &'static str,
}

/// One built-in layout as a table entry: its typename and every name of its tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The Rust (and Python) constant holding its names: `TENSOR`.
    pub constant: &'static str,
    /// Its typename (the prefix before `<...>` if generic); `None` for names shared by several
    /// layouts ([`crate::ARROW_ARRAY`]).
    pub typename: Option<&'static str>,
    /// True if its typename is written with a template argument: `vineyard::Tensor<double>`.
    pub generic: bool,
    /// The shared names its trees also use: [`ARROW_ARRAY`](crate::ARROW_ARRAY)'s, for every
    /// Arrow array layout.
    pub shares: Option<&'static Layout>,
    /// The names of its tree.
    pub names: &'static [Name],
}

impl Layout {
    /// True if `typename` is this layout's: the typename itself, or the typename with a
    /// template argument (which Vineyard's C++ writes for some layouts that Python writes
    /// without: `vineyard::Array<double>`).
    pub fn matches(&self, typename: &str) -> bool {
        let Some(own) = self.typename else {
            return false;
        };
        match typename.strip_prefix(own) {
            Some("") => true,
            Some(rest) => rest.starts_with('<') && rest.ends_with('>'),
            None => false,
        }
    }

    /// The name `key` is in trees of this layout: a member, a field, or an item of one of its
    /// lists or maps (`__elements_-3`, `__elements_-size`), its own or one it shares; `None` if
    /// it is none of them.
    pub fn name_of_key(&self, key: &str) -> Option<&'static Name> {
        let own = self.names.iter().find(|name| match name.role {
            Role::Member | Role::Field => name.spelled == key,
            Role::List => MemberList::new(name.spelled).has_key(key),
            Role::Map => MemberMap::new(name.spelled).has_key(key),
        });
        own.or_else(|| self.shares.and_then(|shared| shared.name_of_key(key)))
    }
}

/// The typename of a generic layout for one template argument: `vineyard::Tensor<double>`.
pub fn instantiate(typename: &str, argument: &str) -> String {
    format!("{typename}<{argument}>")
}

/// The template argument of a typename: `double` in `vineyard::Tensor<double>`; `None` if it
/// has none.
pub fn template_argument(typename: &str) -> Option<&str> {
    let open = typename.find('<')?;
    typename.get(open + 1..typename.rfind('>')?)
}

/// Members numbered from 0 (`__elements_-0`, `__elements_-1`, ...) and their count in the field
/// `__elements_-size`, as Vineyard stores sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberList {
    name: &'static str,
}

impl MemberList {
    /// The list whose items are spelled `{name}-{index}`.
    pub const fn new(name: &'static str) -> MemberList {
        MemberList { name }
    }

    /// The name before the items: `__elements_`.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The member holding item `index`: `__elements_-3`.
    pub fn at(&self, index: usize) -> String {
        format!("{}{ITEM_SEPARATOR}{index}", self.name)
    }

    /// The field holding the number of items: `__elements_-size`.
    pub fn size(&self) -> String {
        format!("{}{ITEM_SEPARATOR}{SIZE_ITEM}", self.name)
    }

    fn has_key(&self, key: &str) -> bool {
        item_of(self.name, key).is_some_and(|item| item == SIZE_ITEM || is_index(item))
    }
}

/// Entries numbered from 0, each a label in the field `{name}-key-{index}` and a member
/// `{name}-value-{index}`, with their count in `{name}-size` (a DataFrame's columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberMap {
    name: &'static str,
}

impl MemberMap {
    /// The map whose entries are spelled `{name}-key-{index}` and `{name}-value-{index}`.
    pub const fn new(name: &'static str) -> MemberMap {
        MemberMap { name }
    }

    /// The name before the entries: `__values_`.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The field holding entry `index`'s label (JSON text): `__values_-key-0`.
    pub fn key(&self, index: usize) -> String {
        format!(
            "{}{ITEM_SEPARATOR}{MAP_KEY_ITEM}{ITEM_SEPARATOR}{index}",
            self.name
        )
    }

    /// The member holding entry `index`'s value: `__values_-value-0`.
    pub fn value(&self, index: usize) -> String {
        format!(
            "{}{ITEM_SEPARATOR}{MAP_VALUE_ITEM}{ITEM_SEPARATOR}{index}",
            self.name
        )
    }

    /// The field holding the number of entries: `__values_-size`.
    pub fn size(&self) -> String {
        format!("{}{ITEM_SEPARATOR}{SIZE_ITEM}", self.name)
    }

    fn has_key(&self, key: &str) -> bool {
        let Some(item) = item_of(self.name, key) else {
            return false;
        };
        if item == SIZE_ITEM {
            return true;
        }
        [MAP_KEY_ITEM, MAP_VALUE_ITEM].iter().any(|part| {
            item.strip_prefix(part)
                .and_then(|rest| rest.strip_prefix(ITEM_SEPARATOR))
                .is_some_and(is_index)
        })
    }
}

/// What follows `{name}-` in `key`.
fn item_of<'a>(name: &str, key: &'a str) -> Option<&'a str> {
    key.strip_prefix(name)?.strip_prefix(ITEM_SEPARATOR)
}

fn is_index(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// Every built-in layout: Python's base values, tensors, Arrow and pandas.
pub fn layouts() -> impl Iterator<Item = &'static Layout> {
    [
        base::LAYOUTS,
        tensor::LAYOUTS,
        arrow_layout::LAYOUTS,
        pandas::LAYOUTS,
    ]
    .into_iter()
    .flatten()
}

/// The layout of objects of `typename` (the older binary typenames, `vineyard::StringArray`
/// and its siblings, are [`crate::BASE_BINARY_ARRAY`]'s).
pub fn find(typename: &str) -> Option<&'static Layout> {
    if arrow_layout::BINARY_ARRAY_TYPES
        .iter()
        .any(|binary| binary.alias == typename)
    {
        return Some(&arrow_layout::BaseBinaryArrayLayout::LAYOUT);
    }
    layouts().find(|layout| layout.matches(typename))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::{BASE_BINARY_ARRAY, DATA_FRAME, NUMERIC_ARRAY, SEQUENCE, TENSOR};

    #[test]
    fn constants_and_typenames_are_unique() {
        let mut constants = HashSet::new();
        let mut typenames = HashSet::new();
        for layout in layouts() {
            assert!(constants.insert(layout.constant), "{}", layout.constant);
            if let Some(typename) = layout.typename {
                assert!(typenames.insert(typename), "{typename}");
            }
        }
    }

    #[test]
    fn names_are_unique_within_a_layout() {
        for layout in layouts() {
            let mut attributes = HashSet::new();
            let mut spellings = HashSet::new();
            for name in layout.names {
                assert!(
                    attributes.insert(name.attribute),
                    "{}.{}",
                    layout.constant,
                    name.attribute
                );
                assert!(
                    spellings.insert(name.spelled),
                    "{}: {}",
                    layout.constant,
                    name.spelled
                );
            }
        }
    }

    #[test]
    fn layouts_match_their_typename_and_its_instances_only() {
        let tensor = find("vineyard::Tensor<double>").unwrap();
        assert_eq!(tensor.constant, "TENSOR");
        assert!(tensor.matches(TENSOR.typename));
        assert!(!tensor.matches("vineyard::TensorBuilder"));
        assert_eq!(find("vineyard::Array").unwrap().constant, "ARRAY");
        assert_eq!(find("vineyard::Array<double>").unwrap().constant, "ARRAY");
        assert!(find("vineyard::Tensor<double").is_none());
        assert_eq!(
            find(&NUMERIC_ARRAY.of("int64")).unwrap().constant,
            "NUMERIC_ARRAY"
        );
        assert_eq!(
            find("vineyard::LargeStringArray").unwrap().constant,
            "BASE_BINARY_ARRAY"
        );
        assert_eq!(
            find(&BASE_BINARY_ARRAY.of("arrow::StringArray"))
                .unwrap()
                .constant,
            "BASE_BINARY_ARRAY"
        );
        assert!(find("my::Thing").is_none());
    }

    #[test]
    fn template_arguments_are_read_back() {
        assert_eq!(template_argument(&TENSOR.of("double")), Some("double"));
        assert_eq!(
            template_argument("vineyard::BaseBinaryArray<arrow::StringArray>"),
            Some("arrow::StringArray")
        );
        assert_eq!(
            template_argument("vineyard::NumericArray<timestamp[ms, tz=UTC]>"),
            Some("timestamp[ms, tz=UTC]")
        );
        assert_eq!(template_argument("vineyard::Array"), None);
        assert_eq!(template_argument("vineyard::Tensor>double<"), None);
    }

    #[test]
    fn list_and_map_items_are_spelled_as_vineyard_does() {
        assert_eq!(SEQUENCE.elements.at(3), "__elements_-3");
        assert_eq!(SEQUENCE.elements.size(), "__elements_-size");
        assert_eq!(DATA_FRAME.values.key(0), "__values_-key-0");
        assert_eq!(DATA_FRAME.values.value(12), "__values_-value-12");
        assert_eq!(DATA_FRAME.values.size(), "__values_-size");
    }

    #[test]
    fn keys_name_their_layout_names() {
        let tuple = find(SEQUENCE.typename).unwrap();
        assert_eq!(tuple.name_of_key("size_").unwrap().attribute, "size");
        assert_eq!(
            tuple
                .name_of_key(&SEQUENCE.elements.at(10))
                .unwrap()
                .attribute,
            "elements"
        );
        assert!(tuple.name_of_key(&SEQUENCE.elements.size()).is_some());
        assert!(tuple.name_of_key("__elements_-").is_none());
        assert!(tuple.name_of_key("__elements_-x").is_none());
        assert!(tuple.name_of_key("buffer_").is_none());
        let frame = find(DATA_FRAME.typename).unwrap();
        for key in [
            DATA_FRAME.values.key(2),
            DATA_FRAME.values.value(2),
            DATA_FRAME.values.size(),
        ] {
            assert_eq!(frame.name_of_key(&key).unwrap().attribute, "values");
        }
        assert!(frame.name_of_key("__values_-other-2").is_none());
        let numbers = find(&NUMERIC_ARRAY.of("double")).unwrap();
        assert_eq!(numbers.name_of_key("buffer_").unwrap().attribute, "buffer");
        assert_eq!(
            numbers.name_of_key("null_bitmap_").unwrap().attribute,
            "null_bitmap"
        );
        assert!(tuple.name_of_key("null_bitmap_").is_none());
    }
}
