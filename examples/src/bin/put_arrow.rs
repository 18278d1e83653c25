//! Puts a table of many column types into vineyard from Rust and prints its id.
//!
//! Usage: `put_arrow <socket> [rows]`, or `put_arrow <socket> tensors`, which puts two tensors
//! instead and prints their ids, one per line: `0..6` as int32 of shape `[2, 3]` in C order,
//! and `0.0..6.0` as double of shape `[3, 2]` in Fortran order (values in C order, as stored).
//!
//! The table has two batches (the second a slice of a
//! longer batch, to exercise offsets) and `rows` rows in all (20 by default); row `i` holds:
//!
//! | column | type | value (null when) |
//! | --- | --- | --- |
//! | `id` | int64 | `i` |
//! | `score` | double | `i * 0.5` (`i % 5 == 4`) |
//! | `half` | halffloat | `i / 4` |
//! | `name` | string | `"name{i}"` (`i % 3 == 1`) |
//! | `note` | large_string | `"ñ" * (i % 3)` |
//! | `flag` | bool | `i % 2 == 0` (`i % 7 == 6`) |
//! | `small` | uint8 | `i * 3 % 256` |
//! | `at` | timestamp[ms, tz=UTC] | `1_600_000_000_000 + i * 1000` |
//! | `day` | date32 | `18_000 + i` |
//! | `tags` | list<item: int32> | `[i, i + 1, ...][..i % 3]` (`i % 4 == 3`) |
//! | `point` | struct<a: int64, b: string> | `{a: i * 10, b: "p{i}"}` (`i % 6 == 5`) |
//! | `kind` | dictionary<values=string, indices=int32> | `["red", "green", "blue"][i % 3]` |
//! | `raw` | binary | bytes `[i, i + 1]` |
//! | `code` | fixed_size_binary[4] | bytes `[i, i, i, i]` |
//! | `price` | decimal128(10, 2) | `i * 1.01` |
//! | `nothing` | null | null |

use std::sync::Arc;

use arrow::array::*;
use arrow::buffer::Buffer;
use arrow::datatypes::*;
use arrow::record_batch::RecordBatch;
use vineyard_builders::Tensor;
use vineyard_core::IpcClient;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("score", DataType::Float64, true),
        Field::new("half", DataType::Float16, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("note", DataType::LargeUtf8, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("small", DataType::UInt8, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("day", DataType::Date32, true),
        Field::new_list("tags", Field::new_list_field(DataType::Int32, true), true),
        Field::new_struct(
            "point",
            vec![
                Field::new("a", DataType::Int64, true),
                Field::new("b", DataType::Utf8, true),
            ],
            true,
        ),
        Field::new_dictionary("kind", DataType::Int32, DataType::Utf8, true),
        Field::new("raw", DataType::Binary, true),
        Field::new("code", DataType::FixedSizeBinary(4), true),
        Field::new("price", DataType::Decimal128(10, 2), true),
        Field::new("nothing", DataType::Null, true),
    ]))
}

/// Rows `0..rows` of the table described above, as one batch.
fn batch(rows: usize) -> RecordBatch {
    let index = || 0..rows as i64;
    let id = Int64Array::from_iter_values(index());
    let score = Float64Array::from_iter(index().map(|i| (i % 5 != 4).then_some(i as f64 * 0.5)));
    let half = Float16Array::from_iter_values(index().map(|i| half::f16::from_f32(i as f32 / 4.0)));
    let name = StringArray::from_iter(index().map(|i| (i % 3 != 1).then(|| format!("name{i}"))));
    let note = LargeStringArray::from_iter_values(index().map(|i| "ñ".repeat((i % 3) as usize)));
    let flag = BooleanArray::from_iter(index().map(|i| (i % 7 != 6).then_some(i % 2 == 0)));
    let small = UInt8Array::from_iter_values(index().map(|i| (i * 3 % 256) as u8));
    let at =
        TimestampMillisecondArray::from_iter_values(index().map(|i| 1_600_000_000_000 + i * 1000))
            .with_timezone("UTC");
    let day = Date32Array::from_iter_values(index().map(|i| 18_000 + i as i32));
    let tags = ListArray::from_iter_primitive::<Int32Type, _, _>(index().map(|i| {
        (i % 4 != 3).then(|| (0..i % 3).map(|k| Some((i + k) as i32)).collect::<Vec<_>>())
    }));
    let point = StructArray::new(
        Fields::from(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]),
        vec![
            Arc::new(Int64Array::from_iter_values(index().map(|i| i * 10))),
            Arc::new(StringArray::from_iter_values(
                index().map(|i| format!("p{i}")),
            )),
        ],
        Some(index().map(|i| i % 6 != 5).collect::<Vec<_>>().into()),
    );
    let kind: DictionaryArray<Int32Type> = DictionaryArray::new(
        Int32Array::from_iter_values(index().map(|i| (i % 3) as i32)),
        Arc::new(StringArray::from(vec!["red", "green", "blue"])),
    );
    let raw = BinaryArray::from_iter_values(index().map(|i| [i as u8, i as u8 + 1]));
    let code = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
        index().map(|i| Some([i as u8; 4])),
        4,
    )
    .expect("4 bytes");
    let price = Decimal128Array::from_iter_values(index().map(|i| i as i128 * 101))
        .with_precision_and_scale(10, 2)
        .expect("fits");
    let nothing = NullArray::new(rows);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id),
        Arc::new(score),
        Arc::new(half),
        Arc::new(name),
        Arc::new(note),
        Arc::new(flag),
        Arc::new(small),
        Arc::new(at),
        Arc::new(day),
        Arc::new(tags),
        Arc::new(point),
        Arc::new(kind),
        Arc::new(raw),
        Arc::new(code),
        Arc::new(price),
        Arc::new(nothing),
    ];
    RecordBatch::try_new(schema(), columns).expect("columns match the schema")
}

fn put_tensors(client: &IpcClient) -> Result<(), Box<dyn std::error::Error>> {
    let ints = Tensor {
        shape: vec![2, 3],
        data_type: DataType::Int32,
        values: Buffer::from_vec((0..6).collect::<Vec<i32>>()),
        fortran_order: false,
    };
    let doubles = Tensor {
        shape: vec![3, 2],
        data_type: DataType::Float64,
        values: Buffer::from_vec((0..6).map(f64::from).collect::<Vec<f64>>()),
        fortran_order: true,
    };
    for tensor in [ints, doubles] {
        let meta = vineyard_builders::put_tensor(client, &tensor)?;
        println!("{}", meta.id().expect("created trees have an id"));
    }
    Ok(())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(socket), what) = (args.next(), args.next()) else {
        return Err("usage: put_arrow <socket> [rows | tensors]".into());
    };
    let client = IpcClient::connect(&socket)?;
    if what.as_deref() == Some("tensors") {
        return put_tensors(&client);
    }
    let rows: usize = what.as_deref().unwrap_or("20").parse()?;
    let first = rows.min(7);
    let whole = batch(rows);
    let batches = [whole.slice(0, first), whole.slice(first, rows - first)];
    let meta = vineyard_builders::put_table(&client, &schema(), &batches)?;
    println!("{}", meta.id().expect("created trees have an id"));
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("put_arrow: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
