//! numpy arrays: `vineyard::Tensor<T>` (any number of dimensions) and `vineyard::Array`
//! (1-D), as [`Tensor`]s whose values stay in the shared memory.

use arrow::datatypes::DataType;
use serde_json::Value;
use vineyard_core::ObjectMeta;

use crate::source::BlobSource;
pub use vineyard_layout::Tensor;
use vineyard_layout::{
    data_type_from_numpy_descr, data_type_from_numpy_name, template_argument, tensor_element_size,
    ARRAY, TENSOR,
};

use crate::buffer::member_buffer;
use crate::error::{typename_of, Error, Result};
use crate::fields::{self, json_field};
use crate::{Resolved, ResolverRegistry};

/// The names of a tree's elements and their dtype: [`TENSOR`]'s or [`ARRAY`]'s.
struct ElementNames {
    buffer: &'static str,
    value_type: &'static str,
    value_type_meta: &'static str,
    value_type_descr: &'static str,
}

const TENSOR_ELEMENTS: ElementNames = ElementNames {
    buffer: TENSOR.buffer,
    value_type: TENSOR.value_type,
    value_type_meta: TENSOR.value_type_meta,
    value_type_descr: TENSOR.value_type_descr,
};

const ARRAY_ELEMENTS: ElementNames = ElementNames {
    buffer: ARRAY.buffer,
    value_type: ARRAY.value_type,
    value_type_meta: ARRAY.value_type_meta,
    value_type_descr: ARRAY.value_type_descr,
};

/// The element type a Tensor/Array tree records: `value_type_meta_` (numpy's `dtype.str`)
/// first, then `value_type_`, then the typename's template argument.
fn element_type(meta: &ObjectMeta, names: &ElementNames) -> Result<DataType> {
    let typename = typename_of(meta);
    if meta.get(names.value_type_descr).is_some() {
        return Err(Error::unsupported_value(
            meta,
            "its elements are numpy records (a structured dtype), which have no Arrow tensor \
             form; store each field as its own array",
        ));
    }
    let descr = fields::optional_str(meta, names.value_type_meta)?;
    let name = fields::optional_str(meta, names.value_type)?;
    let from_typename = template_argument(typename);
    if name == Some("object") || from_typename == Some("object") {
        return Err(Error::unsupported_value(
            meta,
            "its elements are pickled Python objects (numpy object dtype); convert them to a \
             numeric dtype or to a pyarrow array before putting them",
        ));
    }
    let found = match (descr, name.or(from_typename)) {
        (Some(descr), _) => data_type_from_numpy_descr(descr),
        (None, Some(name)) => data_type_from_numpy_name(name),
        (None, None) => None,
    };
    found.ok_or_else(|| {
        let spelled = descr.or(name).or(from_typename).unwrap_or("(none)");
        Error::unsupported_value(
            meta,
            format!(
                "its dtype `{spelled}` has no Arrow form (supported: little-endian bool, \
                 integers, floats, datetime64 and timedelta64)"
            ),
        )
    })
}

/// The tensor of `shape` whose elements `names` locate; `shape_field` names the field errors
/// about the shape blame.
fn tensor_of(
    source: &dyn BlobSource,
    meta: &ObjectMeta,
    names: &ElementNames,
    shape: Vec<usize>,
    shape_field: &str,
    fortran_order: bool,
) -> Result<Tensor> {
    let data_type = element_type(meta, names)?;
    let size = tensor_element_size(&data_type).expect("tensor element types are fixed-width");
    let needed = shape
        .iter()
        .try_fold(size, |acc, extent| acc.checked_mul(*extent))
        .ok_or_else(|| Error::invalid_field(meta, shape_field, format!("{shape:?} overflows")))?;
    let buffer = member_buffer(source, meta, names.buffer)?;
    if buffer.len() < needed {
        return Err(Error::invalid_field(
            meta,
            shape_field,
            format!(
                "{shape:?} of {data_type} needs {needed} bytes but `{}` holds {}",
                names.buffer,
                buffer.len()
            ),
        ));
    }
    Ok(Tensor {
        shape,
        data_type,
        values: buffer.slice_with_length(0, needed),
        fortran_order,
    })
}

/// `vineyard::Tensor<T>`: `shape_` and `order_` (JSON text), `buffer_` in C order.
pub(crate) fn resolve_tensor(
    _: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let shape = match json_field(meta, TENSOR.shape)? {
        Some(Value::Array(extents)) => extents
            .iter()
            .map(|extent| {
                extent
                    .as_u64()
                    .and_then(|extent| usize::try_from(extent).ok())
            })
            .collect::<Option<Vec<usize>>>(),
        _ => None,
    }
    .ok_or_else(|| Error::invalid_field(meta, TENSOR.shape, "should be a JSON list of extents"))?;
    let fortran_order = match json_field(meta, TENSOR.order)? {
        None => false,
        Some(Value::String(order)) if order == "C" => false,
        Some(Value::String(order)) if order == "F" => true,
        Some(other) => {
            return Err(Error::invalid_field(
                meta,
                TENSOR.order,
                format!("should be \"C\" or \"F\", got {other}"),
            ))
        }
    };
    Ok(Resolved::Tensor(tensor_of(
        source,
        meta,
        &TENSOR_ELEMENTS,
        shape,
        TENSOR.shape,
        fortran_order,
    )?))
}

/// `vineyard::Array` (numpy 1-D): `size_` elements in `buffer_`.
pub(crate) fn resolve_array(
    _: &ResolverRegistry,
    source: &dyn BlobSource,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let size = fields::usize_field(meta, ARRAY.size)?;
    Ok(Resolved::Tensor(tensor_of(
        source,
        meta,
        &ARRAY_ELEMENTS,
        vec![size],
        ARRAY.size,
        false,
    )?))
}
