//! Arrow arrays, chunked arrays, schemas, record batches and tables, and the typenames of
//! string and binary arrays ([`BINARY_ARRAY_TYPES`]).
//!
//! Array trees also carry [`ARROW_ARRAY`]'s names. A buffer holds the whole parent array when
//! the producer stored a slice; `offset_` applies to every buffer.

use arrow::datatypes::DataType;

use crate::macros::layouts;

layouts! {
    /// The names every Arrow array tree may have (not a layout of its own).
    ARROW_ARRAY: ArrowArrayLayout {
        /// The number of elements.
        field length = "length_",
        /// The number of nulls.
        field null_count = "null_count_",
        /// The first element's position in the buffers.
        field offset = "offset_",
        /// The exact Arrow type when the typename does not say it all (timestamps, list item
        /// fields, structs, dictionaries, decimals): see [`crate::encode_type`].
        field arrow_type = "arrow_type_",
        /// The validity bitmap (a blob; empty when there are no nulls).
        member null_bitmap = "null_bitmap_",
    }

    /// `vineyard::NumericArray<T>`: integers, floats, dates, times, timestamps and durations;
    /// `T` as pyarrow prints the type ([`crate::numeric_type_name`]).
    NUMERIC_ARRAY: NumericArrayLayout = "vineyard::NumericArray"<T> with ArrowArrayLayout {
        /// The values (a blob).
        member buffer = "buffer_",
    }

    /// `vineyard::BooleanArray`: booleans.
    BOOLEAN_ARRAY: BooleanArrayLayout = "vineyard::BooleanArray" with ArrowArrayLayout {
        /// The bit-packed values (a blob).
        member buffer = "buffer_",
    }

    /// `vineyard::BaseBinaryArray<T>`: strings and binaries; `T` per
    /// [`BINARY_ARRAY_TYPES`].
    BASE_BINARY_ARRAY: BaseBinaryArrayLayout = "vineyard::BaseBinaryArray"<T>
        with ArrowArrayLayout {
        /// The offsets at their width, 32 or 64 bits (a blob).
        member buffer_offsets = "buffer_offsets_",
        /// The bytes (a blob).
        member buffer_data = "buffer_data_",
    }

    /// `vineyard::FixedSizeBinaryArray`: fixed-width binaries, and decimals (with
    /// `arrow_type_`).
    FIXED_SIZE_BINARY_ARRAY: FixedSizeBinaryArrayLayout = "vineyard::FixedSizeBinaryArray"
        with ArrowArrayLayout {
        /// The values (a blob).
        member buffer = "buffer_",
        /// Bytes per value.
        field byte_width = "byte_width_",
    }

    /// `vineyard::ListArray`: lists with 32-bit offsets.
    LIST_ARRAY: ListArrayLayout = "vineyard::ListArray" with ArrowArrayLayout {
        /// The offsets (a blob).
        member buffer_offsets = "buffer_offsets_",
        /// The items' array.
        member values = "values_",
    }

    /// `vineyard::LargeListArray`: lists with 64-bit offsets.
    LARGE_LIST_ARRAY: LargeListArrayLayout = "vineyard::LargeListArray" with ArrowArrayLayout {
        /// The offsets (a blob).
        member buffer_offsets = "buffer_offsets_",
        /// The items' array.
        member values = "values_",
    }

    /// `vineyard::StructArray`: one child array per field.
    STRUCT_ARRAY: StructArrayLayout = "vineyard::StructArray" with ArrowArrayLayout {
        /// The children, in field order.
        list children = "__children_",
    }

    /// `vineyard::DictionaryArray`: indices (which carry the nulls) into a dictionary.
    DICTIONARY_ARRAY: DictionaryArrayLayout = "vineyard::DictionaryArray" with ArrowArrayLayout {
        /// The indices' array.
        member indices = "indices_",
        /// The dictionary's array.
        member dictionary = "dictionary_",
        /// True if the dictionary is ordered.
        field ordered = "ordered_",
    }

    /// `vineyard::NullArray`: `length_` nulls, no buffers.
    NULL_ARRAY: NullArrayLayout = "vineyard::NullArray" with ArrowArrayLayout {}

    /// `vineyard::ChunkedArray`: arrays of one type.
    CHUNKED_ARRAY: ChunkedArrayLayout = "vineyard::ChunkedArray" with ArrowArrayLayout {
        /// The chunks.
        list chunks = "__chunks_",
    }

    /// `vineyard::SchemaProxy`: an Arrow schema.
    SCHEMA_PROXY: SchemaProxyLayout = "vineyard::SchemaProxy" {
        /// JSON `{"bytes": [...]}` of the schema's Arrow IPC encoding ([`crate::encode_schema`]).
        field schema_binary = "schema_binary_",
        /// The same encoding in a blob, as some writers store it instead.
        member buffer = "buffer_",
    }

    /// `vineyard::RecordBatch`: a schema and one array per column.
    RECORD_BATCH: RecordBatchLayout = "vineyard::RecordBatch" {
        /// The schema (a `vineyard::SchemaProxy`).
        member schema = "schema_",
        /// The number of rows.
        field row_num = "row_num_",
        /// The number of columns.
        field column_num = "column_num_",
        /// The columns.
        list columns = "__columns_",
    }

    /// `vineyard::Table`: record batches sharing one schema.
    TABLE: TableLayout = "vineyard::Table" {
        /// The schema (a `vineyard::SchemaProxy`).
        member schema = "schema_",
        /// The number of rows.
        field num_rows = "num_rows_",
        /// The number of columns.
        field num_columns = "num_columns_",
        /// The number of batches.
        field batch_num = "batch_num_",
        /// The batches (`vineyard::RecordBatch`es).
        list partitions = "partitions_",
    }
}

/// How a string or binary Arrow type is spelled in typenames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinaryArrayType {
    /// The Arrow type.
    pub data_type: DataType,
    /// pyarrow's name of the type: `str(pa.string())`.
    pub arrow_name: &'static str,
    /// The template argument of [`BASE_BINARY_ARRAY`]: `arrow::StringArray`.
    pub argument: &'static str,
    /// Vineyard's older typename for the same layout, still read: `vineyard::StringArray`.
    pub alias: &'static str,
}

impl BinaryArrayType {
    /// The typename written: `vineyard::BaseBinaryArray<arrow::StringArray>`.
    pub fn typename(&self) -> String {
        BASE_BINARY_ARRAY.of(self.argument)
    }
}

/// The string and binary types stored as [`BASE_BINARY_ARRAY`]s.
pub const BINARY_ARRAY_TYPES: [BinaryArrayType; 4] = [
    BinaryArrayType {
        data_type: DataType::Utf8,
        arrow_name: "string",
        argument: "arrow::StringArray",
        alias: "vineyard::StringArray",
    },
    BinaryArrayType {
        data_type: DataType::LargeUtf8,
        arrow_name: "large_string",
        argument: "arrow::LargeStringArray",
        alias: "vineyard::LargeStringArray",
    },
    BinaryArrayType {
        data_type: DataType::Binary,
        arrow_name: "binary",
        argument: "arrow::BinaryArray",
        alias: "vineyard::BinaryArray",
    },
    BinaryArrayType {
        data_type: DataType::LargeBinary,
        arrow_name: "large_binary",
        argument: "arrow::LargeBinaryArray",
        alias: "vineyard::LargeBinaryArray",
    },
];

/// The typename of string or binary arrays of `data_type`:
/// `vineyard::BaseBinaryArray<arrow::StringArray>`; `None` for other types.
pub fn binary_typename(data_type: &DataType) -> Option<String> {
    BINARY_ARRAY_TYPES
        .iter()
        .find(|binary| binary.data_type == *data_type)
        .map(BinaryArrayType::typename)
}

/// The Arrow type of a string or binary array's typename (the older aliases too).
pub fn binary_type_from_typename(typename: &str) -> Option<DataType> {
    BINARY_ARRAY_TYPES
        .iter()
        .find(|binary| binary.alias == typename || binary.typename() == typename)
        .map(|binary| binary.data_type.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_typenames_round_trip() {
        for binary in &BINARY_ARRAY_TYPES {
            let typename = binary_typename(&binary.data_type).unwrap();
            assert_eq!(
                binary_type_from_typename(&typename),
                Some(binary.data_type.clone())
            );
            assert_eq!(
                binary_type_from_typename(binary.alias),
                Some(binary.data_type.clone())
            );
        }
        assert_eq!(
            binary_typename(&DataType::Utf8).unwrap(),
            "vineyard::BaseBinaryArray<arrow::StringArray>"
        );
        assert_eq!(binary_typename(&DataType::Utf8View), None);
        assert_eq!(
            binary_type_from_typename("vineyard::BaseBinaryArray<arrow::Utf8View>"),
            None
        );
    }
}
