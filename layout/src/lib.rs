//! vineyard-layout: the metadata contract of vineyard's built-in types, defined once. The
//! builders, the resolvers and the Python package all read it from here.
//!
//! A layout is how one kind of value is stored: a typename, members (the trees of other objects,
//! often blobs) and plain fields. Each built-in layout is a constant whose fields are the names
//! its trees use, so code writes `TENSOR.shape` rather than `"shape_"`, and
//! `TENSOR.of("double")` rather than `"vineyard::Tensor<double>"`:
//!
//! ```
//! use vineyard_layout::{find, SEQUENCE, TENSOR};
//!
//! assert_eq!(TENSOR.of("double"), "vineyard::Tensor<double>");
//! assert_eq!(TENSOR.buffer, "buffer_");
//! assert_eq!(SEQUENCE.elements.at(2), "__elements_-2");
//! assert_eq!(find("vineyard::Tensor<int>").unwrap().constant, "TENSOR");
//! ```
//!
//! The typenames and names are the wire contract with Vineyard's own clients and with stored
//! data: each is spelled once, in its layout's declaration. [`layouts`] lists every layout as a
//! [`Layout`] entry, and [`table_json`] gives the whole table to other languages.
//!
//! # Layout
//! - [`table`]: [`Layout`] and [`Name`], the table's entries; [`MemberList`] and [`MemberMap`],
//!   numbered and keyed members; [`layouts`] and [`find`].
//! - `macros`: `layouts!`, which declares a layout's struct, constant and entry at once.
//! - `base`: Python's values: `Blob`, `Scalar<T>` ([`SCALAR_TYPES`]), `MemoryView`, `Pair`,
//!   `Tuple`, `Sequence`, `List`, `Dict`, `PickleBuffer`.
//! - `tensor`: `Tensor<T>` and `Array` (numpy), and [`Tensor`], the value they hold.
//! - `arrow_layout`: the names all Arrow arrays share ([`ARROW_ARRAY`]), `NumericArray<T>`,
//!   `BooleanArray`, `BaseBinaryArray<T>` ([`BINARY_ARRAY_TYPES`], with the older
//!   `StringArray`-like aliases), `FixedSizeBinaryArray`, `ListArray`, `LargeListArray`,
//!   `StructArray`, `DictionaryArray`, `NullArray`, `ChunkedArray`, `SchemaProxy`,
//!   `RecordBatch`, `Table`.
//! - `pandas`: `DataFrame`, `Series`, `Index`, `RangeIndex`.
//! - `encoding`: `arrow_type_` and `schema_binary_`, Arrow types and schemas in trees.
//! - `numeric`: the element type of `NumericArray<T>`.
//! - `numpy`: numpy dtypes of tensor elements, and their C++ names in `Tensor<T>`.
//! - `export`: [`table_json`].

#![warn(missing_docs)]

mod arrow_layout;
mod base;
mod encoding;
mod export;
mod macros;
mod numeric;
mod numpy;
mod pandas;
pub mod table;
mod tensor;

pub use arrow_layout::*;
pub use base::*;
pub use encoding::{decode_schema, decode_type, encode_schema, encode_type};
pub use export::table_json;
pub use numeric::{is_plain_numeric, numeric_type_from_name, numeric_type_name};
pub use numpy::{
    cpp_element_name, data_type_from_numpy_descr, data_type_from_numpy_name, numpy_dtype,
    NumpyDtype, CPP_ELEMENT_NAMES,
};
pub use pandas::*;
pub use table::{
    find, instantiate, layouts, template_argument, Layout, MemberList, MemberMap, Name, Role,
    ITEM_SEPARATOR, MAP_KEY_ITEM, MAP_VALUE_ITEM, SIZE_ITEM,
};
pub use tensor::*;
