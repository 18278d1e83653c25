//! Checks an imported C Data array against its type before Arrow reads it: Arrow's importer
//! trusts the exporter (a wrong buffer or child count makes it panic or read out of bounds),
//! so every count, length and pointer the import will follow is checked here first, and
//! Arrow's own validation of the imported data (offsets, child lengths, UTF-8) runs after.

use std::ffi::c_void;

use arrow::array::layout;
use arrow::datatypes::DataType;
use arrow::ffi::FFI_ArrowArray;

/// The C Data Interface's `ArrowArray`, field by field (`FFI_ArrowArray` keeps them private).
#[repr(C)]
struct RawArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut RawArray,
    dictionary: *mut RawArray,
    release: Option<unsafe extern "C" fn(*mut RawArray)>,
    private_data: *mut c_void,
}

/// Buffers the C Data Interface gives an array of `data_type` (validity bitmap included):
/// exactly so many, or (views) at least so many.
fn expected_buffers(data_type: &DataType) -> (usize, bool) {
    let layout = layout(data_type);
    let fixed = layout.buffers.len() + usize::from(layout.can_contain_null_mask);
    // Views: their data buffers, then a buffer of the data buffers' sizes.
    (fixed + usize::from(layout.variadic), layout.variadic)
}

/// The children an array of `data_type` has, with their types.
fn child_types(data_type: &DataType) -> Vec<DataType> {
    match data_type {
        DataType::List(field)
        | DataType::LargeList(field)
        | DataType::FixedSizeList(field, _)
        | DataType::ListView(field)
        | DataType::LargeListView(field)
        | DataType::Map(field, _) => vec![field.data_type().clone()],
        DataType::Struct(fields) => fields.iter().map(|f| f.data_type().clone()).collect(),
        DataType::Union(fields, _) => fields.iter().map(|(_, f)| f.data_type().clone()).collect(),
        DataType::RunEndEncoded(ends, values) => {
            vec![ends.data_type().clone(), values.data_type().clone()]
        }
        _ => Vec::new(),
    }
}

/// Checks `array` (and its children and dictionary) against `data_type`; `path` names it in
/// errors (`column 2`, `column 2.child 0`).
pub fn check(array: &FFI_ArrowArray, data_type: &DataType, path: &str) -> Result<(), String> {
    // SAFETY: `FFI_ArrowArray` is `#[repr(C)]` with the fields of the C Data Interface's
    // `ArrowArray` in its order, which `RawArray` declares too; the borrow keeps it alive.
    let raw = unsafe { &*(array as *const FFI_ArrowArray).cast::<RawArray>() };
    check_raw(raw, data_type, path)
}

fn check_raw(raw: &RawArray, data_type: &DataType, path: &str) -> Result<(), String> {
    let bad = |problem: String| Err(format!("{path} ({data_type}): {problem}"));
    if raw.release.is_none() {
        return bad("the array is released already".into());
    }
    if raw.length < 0 || raw.offset < 0 || raw.null_count < -1 {
        return bad(format!(
            "length {}, offset {} and null count {} must not be negative",
            raw.length, raw.offset, raw.null_count
        ));
    }
    if raw.length.checked_add(raw.offset).is_none() {
        return bad(format!(
            "offset {} plus length {} overflows",
            raw.offset, raw.length
        ));
    }
    let (expected, at_least) = expected_buffers(data_type);
    let fits = if at_least {
        raw.n_buffers >= expected as i64
    } else {
        raw.n_buffers == expected as i64
    };
    if !fits {
        let quantity = if at_least { "at least " } else { "" };
        return bad(format!(
            "{} buffers, its type has {quantity}{expected} in the C Data Interface",
            raw.n_buffers
        ));
    }
    if raw.n_buffers > 0 && raw.buffers.is_null() {
        return bad("its buffer list is null".into());
    }
    let children = child_types(data_type);
    if raw.n_children != children.len() as i64 {
        return bad(format!(
            "{} children, its type has {}",
            raw.n_children,
            children.len()
        ));
    }
    if raw.n_children > 0 && raw.children.is_null() {
        return bad("its child list is null".into());
    }
    for (index, child_type) in children.iter().enumerate() {
        // SAFETY: `children` is non-null and, by the interface's contract, holds `n_children`
        // pointers, which was checked to be more than `index`.
        let child = unsafe { *raw.children.add(index) };
        // SAFETY: a non-null child pointer points at a live `ArrowArray` owned by the parent.
        let Some(child) = (unsafe { child.as_ref() }) else {
            return bad(format!("child {index} is null"));
        };
        check_raw(child, child_type, &format!("{path}.child {index}"))?;
    }
    match data_type {
        DataType::Dictionary(_, values) => {
            // SAFETY: a non-null dictionary pointer points at a live `ArrowArray` the parent owns.
            match unsafe { raw.dictionary.as_ref() } {
                Some(dictionary) => check_raw(dictionary, values, &format!("{path}.dictionary")),
                None => bad("a dictionary array without its dictionary".into()),
            }
        }
        _ if !raw.dictionary.is_null() => bad("a dictionary where its type has none".into()),
        _ => Ok(()),
    }
}
