//! The element type inside `vineyard::NumericArray<T>`, as pyarrow prints it (`int64`,
//! `double`, `timestamp[ms, tz=UTC]`), and the other spellings read there.

use arrow::datatypes::{DataType, TimeUnit};

/// A time unit as pyarrow and numpy spell it: `s`, `ms`, `us`, `ns`.
pub(crate) fn unit_name(unit: &TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

/// The time unit [`unit_name`] spells `name`.
pub(crate) fn unit_of(name: &str) -> Option<TimeUnit> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(numeric_type_from_name("time32[ms, tz=UTC]"), None);
        assert_eq!(numeric_type_from_name("timestamp[fortnight]"), None);
    }
}
