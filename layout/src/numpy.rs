//! numpy dtypes of tensor elements: numpy's `dtype.name` and `dtype.str`, C++'s spelling inside
//! `vineyard::Tensor<T>`, and the Arrow types they mean.

use arrow::datatypes::DataType;

use crate::numeric::{is_plain_numeric, numeric_type_from_name, unit_name, unit_of};

/// The numpy dtype names C++ spells otherwise inside `vineyard::Tensor<T>`, as `(numpy, C++)`;
/// every other dtype keeps numpy's name (`int64`, `bool`, `datetime64[ns]`).
pub const CPP_ELEMENT_NAMES: [(&str, &str); 3] = [
    ("int32", "int"),
    ("float32", "float"),
    ("float64", "double"),
];

/// The element type inside `vineyard::Tensor<T>` for the numpy dtype named `numpy_name`.
pub fn cpp_element_name(numpy_name: &str) -> &str {
    CPP_ELEMENT_NAMES
        .iter()
        .find(|(numpy, _)| *numpy == numpy_name)
        .map_or(numpy_name, |(_, cpp)| cpp)
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
    let (name, descr): (String, String) = match data_type {
        DataType::Boolean => ("bool".into(), "|b1".into()),
        DataType::Int8 => ("int8".into(), "|i1".into()),
        DataType::Int16 => ("int16".into(), "<i2".into()),
        DataType::Int32 => ("int32".into(), "<i4".into()),
        DataType::Int64 => ("int64".into(), "<i8".into()),
        DataType::UInt8 => ("uint8".into(), "|u1".into()),
        DataType::UInt16 => ("uint16".into(), "<u2".into()),
        DataType::UInt32 => ("uint32".into(), "<u4".into()),
        DataType::UInt64 => ("uint64".into(), "<u8".into()),
        DataType::Float16 => ("float16".into(), "<f2".into()),
        DataType::Float32 => ("float32".into(), "<f4".into()),
        DataType::Float64 => ("float64".into(), "<f8".into()),
        DataType::Timestamp(unit, None) => (
            format!("datetime64[{}]", unit_name(unit)),
            format!("<M8[{}]", unit_name(unit)),
        ),
        DataType::Duration(unit) => (
            format!("timedelta64[{}]", unit_name(unit)),
            format!("<m8[{}]", unit_name(unit)),
        ),
        _ => return None,
    };
    Some(NumpyDtype {
        cpp_name: cpp_element_name(&name).into(),
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
    use arrow::datatypes::TimeUnit;

    use super::*;

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

    #[test]
    fn cpp_spells_only_three_dtypes_otherwise() {
        assert_eq!(numpy_dtype(&DataType::Int32).unwrap().cpp_name, "int");
        assert_eq!(numpy_dtype(&DataType::Float64).unwrap().cpp_name, "double");
        assert_eq!(numpy_dtype(&DataType::Int64).unwrap().cpp_name, "int64");
        assert_eq!(cpp_element_name("datetime64[ns]"), "datetime64[ns]");
        // What C++ writes reads back as the same type.
        for (numpy, cpp) in CPP_ELEMENT_NAMES {
            assert_eq!(
                data_type_from_numpy_name(cpp),
                data_type_from_numpy_name(numpy)
            );
        }
    }
}
