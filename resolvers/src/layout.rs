//! The metadata contract shared with the builders and the Python package: typenames, the
//! spelling of Arrow types in typenames and in `arrow_type_`, schemas in `schema_binary_`, and
//! numpy dtypes of tensors.

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::error::ArrowError;
use arrow::ipc::writer::{write_message, DictionaryTracker, IpcDataGenerator, IpcWriteOptions};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Typename prefix of primitive arrays: `vineyard::NumericArray<int64>`.
pub const NUMERIC_ARRAY: &str = "vineyard::NumericArray";
/// Typename of boolean arrays.
pub const BOOLEAN_ARRAY: &str = "vineyard::BooleanArray";
/// Typename of fixed-size binary (and decimal) arrays.
pub const FIXED_SIZE_BINARY_ARRAY: &str = "vineyard::FixedSizeBinaryArray";
/// Typename of list arrays.
pub const LIST_ARRAY: &str = "vineyard::ListArray";
/// Typename of large list arrays.
pub const LARGE_LIST_ARRAY: &str = "vineyard::LargeListArray";
/// Typename of struct arrays.
pub const STRUCT_ARRAY: &str = "vineyard::StructArray";
/// Typename of dictionary arrays.
pub const DICTIONARY_ARRAY: &str = "vineyard::DictionaryArray";
/// Typename of null arrays.
pub const NULL_ARRAY: &str = "vineyard::NullArray";
/// Typename of chunked arrays.
pub const CHUNKED_ARRAY: &str = "vineyard::ChunkedArray";
/// Typename of schemas.
pub const SCHEMA_PROXY: &str = "vineyard::SchemaProxy";
/// Typename of record batches.
pub const RECORD_BATCH: &str = "vineyard::RecordBatch";
/// Typename of tables.
pub const TABLE: &str = "vineyard::Table";
/// Typename prefix of n-dimensional arrays: `vineyard::Tensor<double>`.
pub const TENSOR: &str = "vineyard::Tensor";
/// Typename of numpy 1-D arrays.
pub const ARRAY: &str = "vineyard::Array";
/// Typename of pandas DataFrames.
pub const DATA_FRAME: &str = "vineyard::DataFrame";
/// Typename of pandas Series.
pub const SERIES: &str = "vineyard::Series";
/// Typename of pandas indexes.
pub const INDEX: &str = "vineyard::Index";
/// Typename of pandas range indexes.
pub const RANGE_INDEX: &str = "vineyard::RangeIndex";
/// Typename of pickled Python values.
pub const PICKLE_BUFFER: &str = "vineyard::PickleBuffer";

/// The Arrow IPC encoding of `schema` (continuation marker, length, flatbuffer), as pyarrow's
/// `Schema.serialize()`.
pub fn encode_schema(schema: &Schema) -> Result<Vec<u8>, ArrowError> {
    let options = IpcWriteOptions::default();
    let mut tracker = DictionaryTracker::new(false);
    let encoded = IpcDataGenerator::default().schema_to_bytes_with_dictionary_tracker(
        schema,
        &mut tracker,
        &options,
    );
    let mut bytes = Vec::new();
    write_message(&mut bytes, encoded, &options)?;
    Ok(bytes)
}

/// Reads a schema written by [`encode_schema`] or pyarrow's `Schema.serialize()`.
pub fn decode_schema(bytes: &[u8]) -> Result<Schema, ArrowError> {
    arrow::ipc::convert::try_schema_from_ipc_buffer(bytes)
}

/// `arrow_type_`: base64 of a one-field (`item`) schema holding `data_type`.
pub fn encode_type(data_type: &DataType) -> Result<String, ArrowError> {
    let schema = Schema::new(vec![Field::new("item", data_type.clone(), true)]);
    Ok(STANDARD.encode(encode_schema(&schema)?))
}

/// Reads an `arrow_type_` field.
pub fn decode_type(text: &str) -> Result<DataType, ArrowError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|error| ArrowError::ParseError(format!("arrow_type_ is not base64: {error}")))?;
    let schema = decode_schema(&bytes)?;
    match schema.fields().first() {
        Some(field) => Ok(field.data_type().clone()),
        None => Err(ArrowError::ParseError(
            "arrow_type_ holds a schema without fields".into(),
        )),
    }
}

fn unit_name(unit: &TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

fn unit_of(name: &str) -> Option<TimeUnit> {
    Some(match name {
        "s" => TimeUnit::Second,
        "ms" => TimeUnit::Millisecond,
        "us" => TimeUnit::Microsecond,
        "ns" => TimeUnit::Nanosecond,
        _ => return None,
    })
}

/// The type as pyarrow prints it, which the Python package puts in `NumericArray<...>`; `None`
/// for types that are not stored as numeric arrays.
pub fn numeric_type_name(data_type: &DataType) -> Option<String> {
    Some(match data_type {
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float16 => "halffloat".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Date32 => "date32[day]".into(),
        DataType::Date64 => "date64[ms]".into(),
        DataType::Time32(unit) => format!("time32[{}]", unit_name(unit)),
        DataType::Time64(unit) => format!("time64[{}]", unit_name(unit)),
        DataType::Duration(unit) => format!("duration[{}]", unit_name(unit)),
        DataType::Timestamp(unit, None) => format!("timestamp[{}]", unit_name(unit)),
        DataType::Timestamp(unit, Some(tz)) => format!("timestamp[{}, tz={tz}]", unit_name(unit)),
        _ => return None,
    })
}

/// True for numeric types whose typename says all (no `arrow_type_` needed).
pub fn is_plain_numeric(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
    )
}

/// The Arrow type named inside `NumericArray<...>`: pyarrow's, numpy's and C++'s spellings
/// (`double`, `float64`, `int64_t`, `int`, `timestamp[ms, tz=UTC]`, ...).
pub fn numeric_type_from_name(name: &str) -> Option<DataType> {
    let name = name.trim();
    Some(match name {
        "int8" | "int8_t" | "char" => DataType::Int8,
        "int16" | "int16_t" | "short" => DataType::Int16,
        "int32" | "int32_t" | "int" | "i32" => DataType::Int32,
        "int64" | "int64_t" | "long" | "long long" | "i64" => DataType::Int64,
        "uint8" | "uint8_t" => DataType::UInt8,
        "uint16" | "uint16_t" => DataType::UInt16,
        "uint32" | "uint32_t" | "uint" | "uint_t" | "u32" => DataType::UInt32,
        "uint64" | "uint64_t" | "u64" => DataType::UInt64,
        "halffloat" | "half" | "float16" => DataType::Float16,
        "float" | "float32" => DataType::Float32,
        "double" | "float64" => DataType::Float64,
        "date32[day]" | "date32" => DataType::Date32,
        "date64[ms]" | "date64" => DataType::Date64,
        _ => return temporal_type_from_name(name),
    })
}

fn temporal_type_from_name(name: &str) -> Option<DataType> {
    let open = name.find('[')?;
    let inner = name.strip_suffix(']')?.get(open + 1..)?;
    let (unit, tz) = match inner.split_once(", tz=") {
        Some((unit, tz)) => (unit, Some(tz)),
        None => (inner, None),
    };
    let unit = unit_of(unit.trim())?;
    Some(match (&name[..open], tz) {
        ("timestamp", tz) => DataType::Timestamp(unit, tz.map(Into::into)),
        ("time32", None) => DataType::Time32(unit),
        ("time64", None) => DataType::Time64(unit),
        ("duration", None) => DataType::Duration(unit),
        _ => return None,
    })
}

/// `vineyard::BaseBinaryArray<arrow::StringArray>` and its siblings, by Arrow type.
pub fn binary_typename(data_type: &DataType) -> Option<&'static str> {
    Some(match data_type {
        DataType::Utf8 => "vineyard::BaseBinaryArray<arrow::StringArray>",
        DataType::LargeUtf8 => "vineyard::BaseBinaryArray<arrow::LargeStringArray>",
        DataType::Binary => "vineyard::BaseBinaryArray<arrow::BinaryArray>",
        DataType::LargeBinary => "vineyard::BaseBinaryArray<arrow::LargeBinaryArray>",
        _ => return None,
    })
}

/// The Arrow type of a binary array's typename (Vineyard's older spellings too).
pub fn binary_type_from_typename(typename: &str) -> Option<DataType> {
    Some(match typename {
        "vineyard::BaseBinaryArray<arrow::StringArray>" | "vineyard::StringArray" => DataType::Utf8,
        "vineyard::BaseBinaryArray<arrow::LargeStringArray>" | "vineyard::LargeStringArray" => {
            DataType::LargeUtf8
        }
        "vineyard::BaseBinaryArray<arrow::BinaryArray>" | "vineyard::BinaryArray" => {
            DataType::Binary
        }
        "vineyard::BaseBinaryArray<arrow::LargeBinaryArray>" | "vineyard::LargeBinaryArray" => {
            DataType::LargeBinary
        }
        _ => return None,
    })
}

/// How a tensor's element type is spelled in its tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumpyDtype {
    /// Inside `vineyard::Tensor<...>`: C++'s spelling (`double`, `int`, `int64`).
    pub cpp_name: String,
    /// `value_type_`: numpy's `dtype.name` (`float64`, `datetime64[ns]`).
    pub name: String,
    /// `value_type_meta_`: numpy's `dtype.str` (`<f8`, `|b1`, `<M8[ns]`).
    pub descr: String,
}

/// The numpy dtype of tensor elements of `data_type` (`None` if numpy has no such dtype).
pub fn numpy_dtype(data_type: &DataType) -> Option<NumpyDtype> {
    let (cpp_name, name, descr): (&str, String, String) = match data_type {
        DataType::Boolean => ("bool", "bool".into(), "|b1".into()),
        DataType::Int8 => ("int8", "int8".into(), "|i1".into()),
        DataType::Int16 => ("int16", "int16".into(), "<i2".into()),
        DataType::Int32 => ("int", "int32".into(), "<i4".into()),
        DataType::Int64 => ("int64", "int64".into(), "<i8".into()),
        DataType::UInt8 => ("uint8", "uint8".into(), "|u1".into()),
        DataType::UInt16 => ("uint16", "uint16".into(), "<u2".into()),
        DataType::UInt32 => ("uint32", "uint32".into(), "<u4".into()),
        DataType::UInt64 => ("uint64", "uint64".into(), "<u8".into()),
        DataType::Float16 => ("float16", "float16".into(), "<f2".into()),
        DataType::Float32 => ("float", "float32".into(), "<f4".into()),
        DataType::Float64 => ("double", "float64".into(), "<f8".into()),
        DataType::Timestamp(unit, None) => {
            let name = format!("datetime64[{}]", unit_name(unit));
            let descr = format!("<M8[{}]", unit_name(unit));
            return Some(NumpyDtype {
                cpp_name: name.clone(),
                name,
                descr,
            });
        }
        DataType::Duration(unit) => {
            let name = format!("timedelta64[{}]", unit_name(unit));
            let descr = format!("<m8[{}]", unit_name(unit));
            return Some(NumpyDtype {
                cpp_name: name.clone(),
                name,
                descr,
            });
        }
        _ => return None,
    };
    Some(NumpyDtype {
        cpp_name: cpp_name.into(),
        name,
        descr,
    })
}

/// The Arrow type of a numpy `dtype.str` (`<f8`, `|b1`, `<M8[ns]`); `None` for big-endian,
/// complex, text, object and structured dtypes, and for units Arrow lacks.
pub fn data_type_from_numpy_descr(descr: &str) -> Option<DataType> {
    let descr = descr.trim();
    let (order, rest) = descr.split_at_checked(1)?;
    let native = cfg!(target_endian = "little");
    match order {
        "<" | "|" if native => {}
        ">" | "|" if !native => {}
        "=" => {}
        _ => return None,
    }
    let (kind, rest) = rest.split_at_checked(1)?;
    let (size, unit) = match rest.split_once('[') {
        Some((size, unit)) => (size, unit.strip_suffix(']')),
        None => (rest, None),
    };
    let size: usize = size.parse().ok()?;
    Some(match (kind, size, unit) {
        ("b", 1, None) => DataType::Boolean,
        ("i", 1, None) => DataType::Int8,
        ("i", 2, None) => DataType::Int16,
        ("i", 4, None) => DataType::Int32,
        ("i", 8, None) => DataType::Int64,
        ("u", 1, None) => DataType::UInt8,
        ("u", 2, None) => DataType::UInt16,
        ("u", 4, None) => DataType::UInt32,
        ("u", 8, None) => DataType::UInt64,
        ("f", 2, None) => DataType::Float16,
        ("f", 4, None) => DataType::Float32,
        ("f", 8, None) => DataType::Float64,
        ("M", 8, Some(unit)) => DataType::Timestamp(unit_of(unit)?, None),
        ("m", 8, Some(unit)) => DataType::Duration(unit_of(unit)?),
        _ => return None,
    })
}

/// The Arrow type of a numpy `dtype.name` or a C++ element type (`float64`, `double`, `int`,
/// `bool`, `datetime64[ns]`).
pub fn data_type_from_numpy_name(name: &str) -> Option<DataType> {
    let name = name.trim();
    if name == "bool" {
        return Some(DataType::Boolean);
    }
    if let Some(unit) = name
        .strip_prefix("datetime64[")
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return Some(DataType::Timestamp(unit_of(unit)?, None));
    }
    if let Some(unit) = name
        .strip_prefix("timedelta64[")
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return Some(DataType::Duration(unit_of(unit)?));
    }
    numeric_type_from_name(name).filter(is_plain_numeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_type_pyarrow_wrote() {
        // pa.timestamp('ms', tz='UTC'), as the Python package wrote it.
        let text = "/////4gAAAAQAAAAAAAKAAwABgAFAAgACgAAAAABBAAMAAAACAAIAAAABAAIAAAABAAAAAEAAAAU\
                    AAAAEAAUAAgABgAHAAwAAAAQABAAAAAAAAEKEAAAACAAAAAEAAAAAAAAAAQAAABpdGVtAAAAAAgA\
                    DAAGAAgACAAAAAAAAQAEAAAAAwAAAFVUQwAAAAAA";
        assert_eq!(
            decode_type(text).unwrap(),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
    }

    #[test]
    fn types_round_trip_through_arrow_type() {
        let item = Field::new("item", DataType::Utf8, true);
        for data_type in [
            DataType::Timestamp(TimeUnit::Nanosecond, Some("Asia/Shanghai".into())),
            DataType::List(item.clone().into()),
            DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8)),
            DataType::Decimal128(20, 3),
        ] {
            assert_eq!(
                decode_type(&encode_type(&data_type).unwrap()).unwrap(),
                data_type
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for data_type in [
            DataType::Float16,
            DataType::Date32,
            DataType::Date64,
            DataType::Time32(TimeUnit::Millisecond),
            DataType::Time64(TimeUnit::Nanosecond),
            DataType::Duration(TimeUnit::Second),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ] {
            let name = numeric_type_name(&data_type).unwrap();
            assert_eq!(numeric_type_from_name(&name), Some(data_type));
        }
        assert_eq!(
            numeric_type_name(&DataType::Timestamp(
                TimeUnit::Millisecond,
                Some("UTC".into())
            ))
            .unwrap(),
            "timestamp[ms, tz=UTC]"
        );
        assert_eq!(numeric_type_from_name("int64_t"), Some(DataType::Int64));
        assert_eq!(numeric_type_from_name("utf8"), None);
    }

    #[test]
    fn numpy_dtypes_round_trip() {
        for data_type in [
            DataType::Boolean,
            DataType::Int8,
            DataType::Int32,
            DataType::UInt64,
            DataType::Float16,
            DataType::Float64,
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            DataType::Duration(TimeUnit::Microsecond),
        ] {
            let dtype = numpy_dtype(&data_type).unwrap();
            assert_eq!(
                data_type_from_numpy_descr(&dtype.descr),
                Some(data_type.clone())
            );
            assert_eq!(
                data_type_from_numpy_name(&dtype.name),
                Some(data_type.clone())
            );
            assert_eq!(data_type_from_numpy_name(&dtype.cpp_name), Some(data_type));
        }
        assert_eq!(data_type_from_numpy_descr(">f8"), None);
        assert_eq!(data_type_from_numpy_descr("<U5"), None);
        assert_eq!(data_type_from_numpy_descr("|O"), None);
        assert_eq!(numpy_dtype(&DataType::Utf8), None);
    }
}
