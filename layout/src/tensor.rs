//! numpy arrays: the layouts `vineyard::Tensor<T>` (any number of dimensions) and
//! `vineyard::Array` (1-D), and [`Tensor`], the value both hold.

use std::sync::Arc;

use arrow::array::{make_array, ArrayData, ArrayRef, BooleanArray};
use arrow::buffer::Buffer;
use arrow::datatypes::DataType;
use arrow::error::ArrowError;

use crate::macros::layouts;

layouts! {
    /// `vineyard::Tensor<T>`: a numpy array of any number of dimensions; `T` is the element
    /// type as C++ spells it ([`NumpyDtype::cpp_name`](crate::NumpyDtype::cpp_name)).
    TENSOR: TensorLayout = "vineyard::Tensor"<T> {
        /// The elements in C order (a blob); for object arrays, their pickle.
        member buffer = "buffer_",
        /// The extent of each dimension, as JSON text.
        field shape = "shape_",
        /// `"C"` or `"F"` as JSON text: the producer's memory order.
        field order = "order_",
        /// The partition's index among others, as JSON text.
        field partition_index = "partition_index_",
        /// numpy's `dtype.name`.
        field value_type = "value_type_",
        /// numpy's `dtype.str`.
        field value_type_meta = "value_type_meta_",
        /// numpy's `dtype.descr` as JSON, for structured dtypes.
        field value_type_descr = "value_type_descr_",
        /// True if the value was a numpy scalar (a 0-d tensor).
        field numpy_scalar = "numpy_scalar_",
        /// The pickle's length, for object arrays.
        field size = "size_",
    }

    /// `vineyard::Array`: a 1-D numpy array.
    ARRAY: ArrayLayout = "vineyard::Array" {
        /// The elements (a blob).
        member buffer = "buffer_",
        /// The number of elements.
        field size = "size_",
        /// numpy's `dtype.name`.
        field value_type = "value_type_",
        /// numpy's `dtype.str`.
        field value_type_meta = "value_type_meta_",
        /// numpy's `dtype.descr` as JSON, for structured dtypes.
        field value_type_descr = "value_type_descr_",
    }
}

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
        tensor_element_size(&self.data_type)
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

/// Bytes per tensor element of `data_type` (one per boolean, as numpy stores them), if it is
/// fixed-width.
pub fn tensor_element_size(data_type: &DataType) -> Option<usize> {
    match data_type {
        DataType::Boolean => Some(1),
        other => other.primitive_width(),
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int32Array};
    use arrow::datatypes::Int32Type;

    use super::*;

    fn tensor(shape: Vec<usize>, data_type: DataType, values: Buffer) -> Tensor {
        Tensor {
            shape,
            data_type,
            values,
            fortran_order: false,
        }
    }

    #[test]
    fn values_flatten_without_a_copy() {
        let values = Int32Array::from(vec![1, 2, 3, 4, 5, 6])
            .into_parts()
            .1
            .into_inner();
        let tensor = tensor(vec![2, 3], DataType::Int32, values.clone());
        assert_eq!((tensor.len(), tensor.element_size()), (6, Some(4)));
        let array = tensor.to_array().unwrap();
        let flat = array.as_primitive::<Int32Type>();
        assert_eq!(flat.values(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(flat.values().inner().as_ptr(), values.as_ptr());
    }

    #[test]
    fn booleans_take_a_byte_each() {
        let tensor = tensor(vec![3], DataType::Boolean, Buffer::from(vec![1u8, 0, 7]));
        let array = tensor.to_array().unwrap();
        let flags: Vec<_> = array.as_boolean().iter().flatten().collect();
        assert_eq!(flags, [true, false, true]);
    }

    #[test]
    fn short_values_and_variable_widths_are_refused() {
        let short = tensor(vec![2, 2], DataType::Int64, Buffer::from(vec![0u8; 24]));
        let error = short.to_array().unwrap_err().to_string();
        assert!(
            error.contains("needs 32 bytes, its values hold 24"),
            "{error}"
        );
        let text = tensor(vec![1], DataType::Utf8, Buffer::from(vec![0u8; 8]));
        assert!(text
            .to_array()
            .unwrap_err()
            .to_string()
            .contains("no fixed element size"));
        assert!(tensor(vec![], DataType::Float64, Buffer::from(vec![0u8; 8])).len() == 1);
        assert!(tensor(
            vec![0, 4],
            DataType::Float64,
            Buffer::from(Vec::<u8>::new())
        )
        .is_empty());
    }
}
