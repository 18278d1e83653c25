//! The whole table as JSON, for clients in other languages: the Python package reads it from
//! its native module (`vineyard._native.LAYOUT_TABLE`).

use serde_json::{json, Map, Value};

use crate::table::{
    layouts, Layout, Role, ITEM_SEPARATOR, MAP_KEY_ITEM, MAP_VALUE_ITEM, SIZE_ITEM,
};
use crate::{BINARY_ARRAY_TYPES, CPP_ELEMENT_NAMES, PICKLED_LABEL_SUFFIX, SCALAR_TYPES};

/// The table as JSON:
///
/// - `layouts`: per constant (`TENSOR`), `typename` (`null` for shared names), `generic`,
///   `shares` (the constant of the shared names it uses, or `null`), and its names by role,
///   attribute to spelling: `members`, `fields`, `lists`, `maps`;
/// - `binary_array_types`: `arrow_name`, `argument` and `alias` of each [`BINARY_ARRAY_TYPES`];
/// - `scalar_types`: `python_type`, `argument` and `also_read` of each [`SCALAR_TYPES`];
/// - `cpp_element_names`: [`CPP_ELEMENT_NAMES`], numpy name to C++ name;
/// - `keys`: how list, map and label keys are spelled: `item_separator`, `size_item`,
///   `map_key_item`, `map_value_item`, `pickled_label_suffix`.
pub fn table_json() -> Value {
    let layouts: Map<String, Value> = layouts()
        .map(|layout| (layout.constant.to_string(), layout_json(layout)))
        .collect();
    let binary_array_types: Vec<Value> = BINARY_ARRAY_TYPES
        .iter()
        .map(|binary| {
            json!({
                "arrow_name": binary.arrow_name,
                "argument": binary.argument,
                "alias": binary.alias,
            })
        })
        .collect();
    let scalar_types: Vec<Value> = SCALAR_TYPES
        .iter()
        .map(|scalar| {
            json!({
                "python_type": scalar.python_type,
                "argument": scalar.argument,
                "also_read": scalar.also_read,
            })
        })
        .collect();
    let cpp_element_names: Map<String, Value> = CPP_ELEMENT_NAMES
        .iter()
        .map(|(numpy, cpp)| (numpy.to_string(), Value::from(*cpp)))
        .collect();
    json!({
        "layouts": layouts,
        "binary_array_types": binary_array_types,
        "scalar_types": scalar_types,
        "cpp_element_names": cpp_element_names,
        "keys": {
            "item_separator": ITEM_SEPARATOR,
            "size_item": SIZE_ITEM,
            "map_key_item": MAP_KEY_ITEM,
            "map_value_item": MAP_VALUE_ITEM,
            "pickled_label_suffix": PICKLED_LABEL_SUFFIX,
        },
    })
}

fn layout_json(layout: &Layout) -> Value {
    let mut groups: Map<String, Value> = [Role::Member, Role::Field, Role::List, Role::Map]
        .into_iter()
        .map(|role| (role.group().to_string(), Value::Object(Map::new())))
        .collect();
    for name in layout.names {
        groups[name.role.group()]
            .as_object_mut()
            .expect("every group is an object")
            .insert(name.attribute.into(), name.spelled.into());
    }
    groups.insert("typename".into(), layout.typename.into());
    groups.insert("generic".into(), layout.generic.into());
    groups.insert(
        "shares".into(),
        layout.shares.map(|shared| shared.constant).into(),
    );
    Value::Object(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ARROW_ARRAY, TENSOR};

    #[test]
    fn every_layout_and_name_is_exported_under_its_role() {
        let table = table_json();
        let exported = table["layouts"].as_object().unwrap();
        assert_eq!(exported.len(), layouts().count());
        for layout in layouts() {
            let entry = &exported[layout.constant];
            assert_eq!(entry["typename"], json!(layout.typename));
            assert_eq!(entry["generic"], json!(layout.generic));
            assert_eq!(
                entry["shares"],
                json!(layout.shares.map(|shared| shared.constant))
            );
            let exported_names: usize = ["members", "fields", "lists", "maps"]
                .iter()
                .map(|group| entry[group].as_object().unwrap().len())
                .sum();
            assert_eq!(exported_names, layout.names.len(), "{}", layout.constant);
            for name in layout.names {
                assert_eq!(
                    entry[name.role.group()][name.attribute],
                    json!(name.spelled),
                    "{}.{}",
                    layout.constant,
                    name.attribute
                );
            }
        }
        assert_eq!(
            exported["TENSOR"]["fields"]["shape"],
            json!(TENSOR.shape),
            "attributes are the Rust field names"
        );
        assert_eq!(exported["ARROW_ARRAY"]["typename"], Value::Null);
        assert_eq!(exported["NUMERIC_ARRAY"]["shares"], json!("ARROW_ARRAY"));
        assert_eq!(
            exported["ARROW_ARRAY"]["members"]["null_bitmap"],
            json!(ARROW_ARRAY.null_bitmap)
        );
    }

    #[test]
    fn the_side_tables_are_exported() {
        let table = table_json();
        let binaries = table["binary_array_types"].as_array().unwrap();
        assert_eq!(binaries.len(), BINARY_ARRAY_TYPES.len());
        for (binary, exported) in BINARY_ARRAY_TYPES.iter().zip(binaries) {
            assert_eq!(exported["arrow_name"], json!(binary.arrow_name));
            assert_eq!(exported["argument"], json!(binary.argument));
            assert_eq!(exported["alias"], json!(binary.alias));
        }
        let scalars = table["scalar_types"].as_array().unwrap();
        assert_eq!(scalars.len(), SCALAR_TYPES.len());
        for (scalar, exported) in SCALAR_TYPES.iter().zip(scalars) {
            assert_eq!(exported["python_type"], json!(scalar.python_type));
            assert_eq!(exported["argument"], json!(scalar.argument));
            assert_eq!(exported["also_read"], json!(scalar.also_read));
        }
        for (numpy, cpp) in CPP_ELEMENT_NAMES {
            assert_eq!(table["cpp_element_names"][numpy], json!(cpp));
        }
        assert_eq!(table["keys"]["item_separator"], json!(ITEM_SEPARATOR));
        assert_eq!(table["keys"]["size_item"], json!(SIZE_ITEM));
        assert_eq!(table["keys"]["map_key_item"], json!(MAP_KEY_ITEM));
        assert_eq!(table["keys"]["map_value_item"], json!(MAP_VALUE_ITEM));
        assert_eq!(
            table["keys"]["pickled_label_suffix"],
            json!(PICKLED_LABEL_SUFFIX)
        );
    }
}
