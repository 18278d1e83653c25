//! numpy arrays: `vineyard::Tensor<T>` (any number of dimensions) and `vineyard::Array`
//! (1-D), as [`Tensor`]s whose values stay in the shared memory.

use std::sync::Arc;

use arrow::array::{make_array, ArrayData, ArrayRef, BooleanArray};
use arrow::buffer::Buffer;
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use serde_json::Value;
use vineyard_core::{IpcClient, ObjectMeta};

use crate::buffer::member_buffer;
use crate::error::{typename_of, Error, Result};
use crate::fields::{self, json_field};
use crate::layout::{data_type_from_numpy_descr, data_type_from_numpy_name};
use crate::{Resolved, ResolverRegistry};

/// An n-dimensional array of fixed-width elements.
///
/// `values` holds the elements in row-major (C) order whatever `fortran_order` says, as
/// Vineyard stores them; `fortran_order` records that the producer's array was column-major
/// (numpy gives back a Fortran-ordered array for it). Boolean tensors hold one byte per
/// element, as numpy does.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Extent of each dimension (empty for a scalar).
    pub shape: Vec<usize>,
    /// The element type: a fixed-width numeric, boolean, timestamp or duration type.
    pub data_type: DataType,
    /// The elements, in C order.
    pub values: Buffer,
    /// True if the producer's array was column-major.
    pub fortran_order: bool,
}

impl Tensor {
    /// The number of elements (the product of the shape; 1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True if the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes per element, if the element type is fixed-width.
    pub fn element_size(&self) -> Option<usize> {
        element_size(&self.data_type)
    }

    /// The elements, flattened in C order, as a 1-D Arrow array without nulls. Numeric values
    /// are not copied; booleans are packed into bits (a copy).
    pub fn to_array(&self) -> Result<ArrayRef, ArrowError> {
        let len = self.len();
        let size = self.element_size().ok_or_else(|| {
            ArrowError::InvalidArgumentError(format!(
                "tensors of {} have no fixed element size",
                self.data_type
            ))
        })?;
        if self.values.len() < len * size {
            return Err(ArrowError::InvalidArgumentError(format!(
                "a tensor of shape {:?} and type {} needs {} bytes, its values hold {}",
                self.shape,
                self.data_type,
                len * size,
                self.values.len()
            )));
        }
        if self.data_type == DataType::Boolean {
            let bytes = &self.values.as_slice()[..len];
            return Ok(Arc::new(BooleanArray::from_iter(
                bytes.iter().map(|byte| Some(*byte != 0)),
            )));
        }
        let data = ArrayData::try_new(
            self.data_type.clone(),
            len,
            None,
            0,
            vec![self.values.slice_with_length(0, len * size)],
            vec![],
        )?;
        Ok(make_array(data))
    }
}

fn element_size(data_type: &DataType) -> Option<usize> {
    match data_type {
        DataType::Boolean => Some(1),
        other => other.primitive_width(),
    }
}

/// The element type a Tensor/Array tree records: `value_type_meta_` (numpy's `dtype.str`)
/// first, then `value_type_`, then the typename's template argument.
fn element_type(meta: &ObjectMeta) -> Result<DataType> {
    let typename = typename_of(meta);
    if meta.get("value_type_descr_").is_some() {
        return Err(Error::unsupported_value(
            meta,
            "its elements are numpy records (a structured dtype), which have no Arrow tensor \
             form; store each field as its own array",
        ));
    }
    let descr = fields::optional_str(meta, "value_type_meta_")?;
    let name = fields::optional_str(meta, "value_type_")?;
    if name == Some("object") || typename.ends_with("<object>") {
        return Err(Error::unsupported_value(
            meta,
            "its elements are pickled Python objects (numpy object dtype); convert them to a \
             numeric dtype or to a pyarrow array before putting them",
        ));
    }
    let from_typename = typename
        .find('<')
        .and_then(|open| typename.get(open + 1..typename.rfind('>')?));
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

fn tensor_of(
    client: &IpcClient,
    meta: &ObjectMeta,
    shape: Vec<usize>,
    fortran_order: bool,
) -> Result<Tensor> {
    let data_type = element_type(meta)?;
    let size = element_size(&data_type).expect("tensor element types are fixed-width");
    let needed = shape
        .iter()
        .try_fold(size, |acc, extent| acc.checked_mul(*extent))
        .ok_or_else(|| Error::invalid_field(meta, "shape_", format!("{shape:?} overflows")))?;
    let buffer = member_buffer(client, meta, "buffer_")?;
    if buffer.len() < needed {
        return Err(Error::invalid_field(
            meta,
            "shape_",
            format!(
                "{shape:?} of {data_type} needs {needed} bytes but `buffer_` holds {}",
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
    client: &IpcClient,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let shape = match json_field(meta, "shape_")? {
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
    .ok_or_else(|| Error::invalid_field(meta, "shape_", "should be a JSON list of extents"))?;
    let fortran_order = match json_field(meta, "order_")? {
        None => false,
        Some(Value::String(order)) if order == "C" => false,
        Some(Value::String(order)) if order == "F" => true,
        Some(other) => {
            return Err(Error::invalid_field(
                meta,
                "order_",
                format!("should be \"C\" or \"F\", got {other}"),
            ))
        }
    };
    Ok(Resolved::Tensor(tensor_of(
        client,
        meta,
        shape,
        fortran_order,
    )?))
}

/// `vineyard::Array` (numpy 1-D): `size_` elements in `buffer_`.
pub(crate) fn resolve_array(
    _: &ResolverRegistry,
    client: &IpcClient,
    meta: &ObjectMeta,
) -> Result<Resolved> {
    let size = fields::usize_field(meta, "size_")?;
    Ok(Resolved::Tensor(tensor_of(
        client,
        meta,
        vec![size],
        false,
    )?))
}
