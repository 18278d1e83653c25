//! `vineyard::Tensor<T>`: `shape_`, `order_`, `partition_index_` (JSON text), the numpy dtype
//! (`value_type_`, `value_type_meta_`) and the elements in C order in `buffer_`.

use vineyard_core::{IpcClient, ObjectMeta};
use vineyard_layout::{numpy_dtype, Tensor, TENSOR};

use crate::buffer::{create, put_bytes};
use crate::error::{Error, Result};
use crate::put::Put;

/// Puts a tensor; its `values` must hold the elements in C order (see [`Tensor`]).
pub fn put_tensor(client: &IpcClient, tensor: &Tensor) -> Result<ObjectMeta> {
    Put::new(client).run(|put| build_tensor(put, tensor))
}

fn build_tensor(put: &Put, tensor: &Tensor) -> Result<ObjectMeta> {
    let dtype = numpy_dtype(&tensor.data_type).ok_or_else(|| Error::InvalidTensor {
        reason: format!(
            "numpy has no dtype for {}; use a boolean, integer, float, timestamp without time \
             zone or duration type",
            tensor.data_type
        ),
    })?;
    let size = tensor.element_size().expect("numpy dtypes are fixed-width");
    let needed = tensor
        .shape
        .iter()
        .try_fold(size, |acc, extent| acc.checked_mul(*extent))
        .ok_or_else(|| Error::InvalidTensor {
            reason: format!("the shape {:?} overflows", tensor.shape),
        })?;
    if tensor.values.len() != needed {
        return Err(Error::InvalidTensor {
            reason: format!(
                "the shape {:?} of {} needs {needed} bytes of values, got {}",
                tensor.shape,
                tensor.data_type,
                tensor.values.len()
            ),
        });
    }
    let order = if tensor.fortran_order { "F" } else { "C" };
    let mut meta = ObjectMeta::with_typename(&TENSOR.of(&dtype.cpp_name));
    meta.insert(
        TENSOR.shape,
        serde_json::to_string(&tensor.shape).expect("integers"),
    );
    meta.insert(TENSOR.partition_index, "[]");
    meta.insert(TENSOR.order, serde_json::to_string(order).expect("text"));
    meta.insert(TENSOR.value_type, dtype.name);
    meta.insert(TENSOR.value_type_meta, dtype.descr);
    meta.add_member(TENSOR.buffer, put_bytes(put, tensor.values.clone())?);
    create(meta)
}
