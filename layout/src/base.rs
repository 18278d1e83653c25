//! Python's own values, as the Python package (and Vineyard's) stores them: blobs, scalars,
//! memoryviews, pairs, sequences (tuples and lists), dicts, and pickles of everything else.
//! Typenames are Vineyard 0.24.2's wherever it stores the value (a bool is a
//! `vineyard::Scalar<int>`, a list a `vineyard::Sequence`), so resolvers registered by
//! typename apply to both; what Vineyard loses (a bool is a bool, a list a list) is kept in
//! fields it ignores.

use vineyard_core::meta::BLOB_TYPENAME;

use crate::macros::layouts;

layouts! {
    /// `vineyard::Blob`: bytes in the shared memory (Python's `bytes` are stored as one).
    BLOB: BlobLayout = BLOB_TYPENAME {}

    /// `vineyard::Scalar<T>`: a None, bool, int, float or str; `T` and `type_` as
    /// [`SCALAR_TYPES`] spells them.
    SCALAR: ScalarLayout = "vineyard::Scalar"<T> {
        /// The value, as JSON.
        field value = "value_",
        /// A float's exact value (`float.hex()`), which JSON parsers may round.
        field value_hex = "value_hex_",
        /// The Python type's name.
        field type_name = "type_",
    }

    /// `vineyard::MemoryView`: a typed or shaped memoryview's bytes and how to cast them back
    /// (a view of plain bytes is a bare `vineyard::Blob`, as in Vineyard).
    MEMORY_VIEW: MemoryViewLayout = "vineyard::MemoryView" {
        /// The bytes (a blob).
        member buffer = "buffer_",
        /// The item format (`memoryview.format`).
        field format = "format_",
        /// The shape, as JSON text.
        field shape = "shape_",
        /// Bytes per item.
        field itemsize = "itemsize_",
        /// True if the view was read-only.
        field readonly = "readonly_",
        /// The number of bytes.
        field size = "size_",
    }

    /// `vineyard::Pair`: a 2-tuple.
    PAIR: PairLayout = "vineyard::Pair" {
        /// The first item.
        member first = "first",
        /// The second item.
        member second = "second",
    }

    /// `vineyard::Sequence`: a tuple (of any length but 2) or a list, as Vineyard stores
    /// both; read back as a tuple unless `type_` says `list`.
    SEQUENCE: SequenceLayout = "vineyard::Sequence" {
        /// The number of items.
        field size = "size_",
        /// The items.
        list elements = "__elements_",
        /// The Python type's name, `tuple` or `list` (ours: Vineyard neither writes nor reads
        /// it, and reads every sequence as a tuple).
        field type_name = "type_",
    }

    /// `vineyard::Dict`: a dict; entry `i` is `keys.at(i)` and `values.at(i)`.
    DICT: DictLayout = "vineyard::Dict" {
        /// The number of entries.
        field size = "size_",
        /// The keys.
        list keys = "__keys_",
        /// The values.
        list values = "__values_",
    }

    /// `vineyard::PickleBuffer`: any other value, pickled (protocol 5) into one blob.
    PICKLE_BUFFER: PickleBufferLayout = "vineyard::PickleBuffer" {
        /// The pickle (a blob).
        member buffer = "buffer_",
        /// The pickle's length.
        field size = "size_",
    }
}

/// How a Python scalar type is spelled in [`SCALAR`] trees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalarType {
    /// Python's name of the type (`type(value).__name__`), written in `type_`.
    pub python_type: &'static str,
    /// The template argument written: `std::string` in `vineyard::Scalar<std::string>`.
    pub argument: &'static str,
    /// Other template arguments read as this type.
    pub also_read: &'static [&'static str],
}

/// The scalar types the Python package writes. A `vineyard::Scalar<T>` of any other `T`
/// (`int64_t`, `uint32`, ...) holds an integer.
pub const SCALAR_TYPES: [ScalarType; 5] = [
    ScalarType {
        python_type: "NoneType",
        argument: "None",
        also_read: &[],
    },
    // Vineyard writes bools as `Scalar<int>` (with `type_: bool`).
    ScalarType {
        python_type: "bool",
        argument: "int",
        also_read: &["bool"],
    },
    ScalarType {
        python_type: "int",
        argument: "int",
        also_read: &[],
    },
    ScalarType {
        python_type: "float",
        argument: "double",
        also_read: &["float"],
    },
    ScalarType {
        python_type: "str",
        argument: "std::string",
        also_read: &["string"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_typenames_are_templated() {
        let typenames: Vec<String> = SCALAR_TYPES
            .iter()
            .map(|scalar| SCALAR.of(scalar.argument))
            .collect();
        assert_eq!(typenames[0], "vineyard::Scalar<None>");
        assert_eq!(typenames[4], "vineyard::Scalar<std::string>");
        assert!(typenames
            .iter()
            .all(|typename| crate::find(typename) == Some(&ScalarLayout::LAYOUT)));
    }
}
