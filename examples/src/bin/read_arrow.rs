//! Resolves a vineyard object from Rust (no copy) and prints a canonical JSON summary of it,
//! which the Python interop tests compare with what pyarrow says.
//!
//! Usage: `read_arrow <socket> <object id>`. The summary is the object as a Flight `do_get`
//! would stream it (`vineyard_resolvers::to_record_batches`):
//!
//! - `typename`, `kind` (`a table`, `a tensor`, ...), `num_rows`, `num_batches`;
//! - `schema_ipc`: the schema, base64 of its Arrow IPC encoding; `metadata`: its metadata;
//! - `fields`: `[name, type, nullable]` per field, types as Rust's Arrow prints them;
//! - `columns`: `[name, values]` per column, values as JSON: integers for integers and for
//!   temporal types (their stored number), floats (`"NaN"`, `"inf"`, `"-inf"` as text), text,
//!   hex text for binaries, decimal text for decimals, lists, objects for structs, decoded
//!   values for dictionaries, `null` for nulls;
//! - `zero_copy`: `[name, bool]` per column: whether every buffer of the column (children
//!   included) lies in this process's memfd mappings, the vineyard arenas.

use arrow::array::*;
use arrow::datatypes::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use vineyard_core::IpcClient;
use vineyard_resolvers::{layout, resolve, to_record_batches};

fn float(value: f64) -> Value {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        value.into()
    }
}

fn hex(bytes: &[u8]) -> Value {
    bytes
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<String>()
        .into()
}

fn integers<T: ArrowPrimitiveType>(array: &dyn Array) -> Vec<Value>
where
    T::Native: Into<Value>,
{
    array
        .as_primitive::<T>()
        .iter()
        .map(|value| value.map_or(Value::Null, Into::into))
        .collect()
}

fn floats<T: ArrowPrimitiveType>(array: &dyn Array, to_f64: fn(T::Native) -> f64) -> Vec<Value> {
    array
        .as_primitive::<T>()
        .iter()
        .map(|value| value.map_or(Value::Null, |value| float(to_f64(value))))
        .collect()
}

fn decimals<T: DecimalType>(array: &dyn Array, precision: u8, scale: i8) -> Vec<Value> {
    array
        .as_primitive::<T>()
        .iter()
        .map(|value| {
            value.map_or(Value::Null, |v| {
                T::format_decimal(v, precision, scale).into()
            })
        })
        .collect()
}

fn texts<O: OffsetSizeTrait>(array: &dyn Array) -> Vec<Value> {
    array
        .as_string::<O>()
        .iter()
        .map(|value| value.map_or(Value::Null, Into::into))
        .collect()
}

fn binaries<O: OffsetSizeTrait>(array: &dyn Array) -> Vec<Value> {
    array
        .as_binary::<O>()
        .iter()
        .map(|value| value.map_or(Value::Null, hex))
        .collect()
}

fn lists<O: OffsetSizeTrait>(array: &dyn Array) -> Vec<Value> {
    array
        .as_list::<O>()
        .iter()
        .map(|value| value.map_or(Value::Null, |items| Value::Array(values(items.as_ref()))))
        .collect()
}

/// The canonical JSON values of `array` (see the module documentation).
fn values(array: &dyn Array) -> Vec<Value> {
    match array.data_type() {
        DataType::Null => vec![Value::Null; array.len()],
        DataType::Boolean => array
            .as_boolean()
            .iter()
            .map(|value| value.map_or(Value::Null, Into::into))
            .collect(),
        DataType::Int8 => integers::<Int8Type>(array),
        DataType::Int16 => integers::<Int16Type>(array),
        DataType::Int32 => integers::<Int32Type>(array),
        DataType::Int64 => integers::<Int64Type>(array),
        DataType::UInt8 => integers::<UInt8Type>(array),
        DataType::UInt16 => integers::<UInt16Type>(array),
        DataType::UInt32 => integers::<UInt32Type>(array),
        DataType::UInt64 => integers::<UInt64Type>(array),
        DataType::Float16 => floats::<Float16Type>(array, f64::from),
        DataType::Float32 => floats::<Float32Type>(array, f64::from),
        DataType::Float64 => floats::<Float64Type>(array, |value| value),
        DataType::Date32 | DataType::Time32(_) => {
            let ints = arrow::compute::cast(array, &DataType::Int32).expect("temporal to int");
            integers::<Int32Type>(ints.as_ref())
        }
        DataType::Date64
        | DataType::Time64(_)
        | DataType::Timestamp(_, _)
        | DataType::Duration(_) => {
            let ints = arrow::compute::cast(array, &DataType::Int64).expect("temporal to int");
            integers::<Int64Type>(ints.as_ref())
        }
        DataType::Decimal128(precision, scale) => {
            decimals::<Decimal128Type>(array, *precision, *scale)
        }
        DataType::Decimal256(precision, scale) => {
            decimals::<Decimal256Type>(array, *precision, *scale)
        }
        DataType::Utf8 => texts::<i32>(array),
        DataType::LargeUtf8 => texts::<i64>(array),
        DataType::Binary => binaries::<i32>(array),
        DataType::LargeBinary => binaries::<i64>(array),
        DataType::FixedSizeBinary(_) => array
            .as_fixed_size_binary()
            .iter()
            .map(|value| value.map_or(Value::Null, hex))
            .collect(),
        DataType::List(_) => lists::<i32>(array),
        DataType::LargeList(_) => lists::<i64>(array),
        DataType::Struct(fields) => {
            let array = array.as_struct();
            let children: Vec<Vec<Value>> = array
                .columns()
                .iter()
                .map(|child| values(child.as_ref()))
                .collect();
            (0..array.len())
                .map(|row| {
                    if array.is_null(row) {
                        return Value::Null;
                    }
                    let object: Map<String, Value> = fields
                        .iter()
                        .zip(&children)
                        .map(|(field, child)| (field.name().clone(), child[row].clone()))
                        .collect();
                    Value::Object(object)
                })
                .collect()
        }
        DataType::Dictionary(_, value_type) => {
            let decoded = arrow::compute::cast(array, value_type).expect("dictionary decodes");
            values(decoded.as_ref())
        }
        other => {
            let options = arrow::util::display::FormatOptions::default();
            let formatter = arrow::util::display::ArrayFormatter::try_new(array, &options)
                .unwrap_or_else(|error| panic!("cannot print {other}: {error}"));
            (0..array.len())
                .map(|row| formatter.value(row).to_string().into())
                .collect()
        }
    }
}

/// Address ranges of this process's memfd mappings (the vineyard arenas).
fn memfd_ranges() -> Vec<(usize, usize)> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    maps.lines()
        .filter(|line| {
            line.split_whitespace()
                .nth(5)
                .is_some_and(|path| path.starts_with("/memfd:"))
        })
        .filter_map(|line| {
            let (start, end) = line.split_whitespace().next()?.split_once('-')?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        })
        .collect()
}

/// True if every non-empty buffer of `data` (children included) lies in `ranges`.
fn in_ranges(data: &ArrayData, ranges: &[(usize, usize)]) -> bool {
    let inside = |pointer: *const u8, len: usize| {
        len == 0
            || ranges
                .iter()
                .any(|(start, end)| *start <= pointer as usize && pointer as usize + len <= *end)
    };
    data.buffers()
        .iter()
        .all(|buffer| inside(buffer.as_ptr(), buffer.len()))
        && data
            .nulls()
            .is_none_or(|nulls| inside(nulls.buffer().as_ptr(), nulls.buffer().len()))
        && data
            .child_data()
            .iter()
            .all(|child| in_ranges(child, ranges))
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [socket, id] = args.as_slice() else {
        return Err("usage: read_arrow <socket> <object id>".into());
    };
    let client = IpcClient::connect(socket)?;
    let meta = client.get_metadata(id.parse()?)?;
    let resolved = resolve(&client, &meta)?;
    let kind = resolved.kind();
    let (schema, batches) = to_record_batches(resolved)?;
    let ranges = memfd_ranges();
    let mut columns = Vec::new();
    let mut zero_copy = Vec::new();
    for (index, field) in schema.fields().iter().enumerate() {
        let mut column = Vec::new();
        let mut shared = true;
        for batch in &batches {
            let array = batch.column(index);
            column.extend(values(array.as_ref()));
            shared &= in_ranges(&array.to_data(), &ranges);
        }
        columns.push(json!([field.name(), column]));
        zero_copy.push(json!([field.name(), shared]));
    }
    let fields: Vec<Value> = schema
        .fields()
        .iter()
        .map(|field| {
            json!([
                field.name(),
                field.data_type().to_string(),
                field.is_nullable()
            ])
        })
        .collect();
    let summary = json!({
        "typename": meta.typename(),
        "kind": kind,
        "num_rows": batches.iter().map(|batch| batch.num_rows()).sum::<usize>(),
        "num_batches": batches.len(),
        "schema_ipc": STANDARD.encode(layout::encode_schema(&schema)?),
        "metadata": schema.metadata(),
        "fields": fields,
        "columns": columns,
        "zero_copy": zero_copy,
    });
    println!("{summary}");
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("read_arrow: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
