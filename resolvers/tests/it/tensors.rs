//! numpy arrays as the Python package stores them.

use arrow::array::*;
use arrow::datatypes::*;
use serde_json::json;
use vineyard_resolvers::{resolve, resolve_array, Error, Resolved, Tensor};

use crate::{blob, create, le_bytes};
use vineyard_test_harness::TestServer;

fn tensor_of(resolved: Resolved) -> Tensor {
    match resolved {
        Resolved::Tensor(tensor) => tensor,
        other => panic!("not a tensor: {other:?}"),
    }
}

#[test]
fn a_fortran_ordered_tensor_keeps_c_ordered_values() {
    let server = TestServer::start();
    let client = server.client();
    // np.arange(6.0).reshape(2, 3).T: shape (3, 2), Fortran order, stored in C order.
    let c_order = [0.0f64, 3.0, 1.0, 4.0, 2.0, 5.0];
    let values = blob(&client, &le_bytes(&c_order, f64::to_le_bytes));
    let meta = create(
        &client,
        "vineyard::Tensor<double>",
        json!({
            "shape_": "[3, 2]", "order_": "\"F\"", "partition_index_": "[]",
            "value_type_": "float64", "value_type_meta_": "<f8", "nbytes": 48,
        }),
        vec![("buffer_", values.clone())],
    );
    let tensor = tensor_of(resolve(&client, &meta).unwrap());
    assert_eq!(tensor.shape, [3, 2]);
    assert_eq!(tensor.data_type, DataType::Float64);
    assert!(tensor.fortran_order);
    let blob = client.get_blob(values.id().unwrap()).unwrap();
    assert_eq!(tensor.values.as_ptr(), blob.as_ptr());
    let flat = resolve_array(&client, &meta).unwrap();
    assert_eq!(
        flat.as_ref(),
        &Float64Array::from(c_order.to_vec()) as &dyn Array
    );
}

#[test]
fn dtypes_from_meta_name_or_typename() {
    let server = TestServer::start();
    let client = server.client();
    let cases = [
        // Vineyard's C++ writes no value_type_meta_; the typename says the type.
        (
            "vineyard::Tensor<int>",
            json!({"shape_": "[2]"}),
            DataType::Int32,
            4,
        ),
        (
            "vineyard::Tensor<int64>",
            json!({"shape_": "[1, 2]", "value_type_": "int64"}),
            DataType::Int64,
            8,
        ),
        (
            "vineyard::Tensor<bool>",
            json!({"shape_": "[3]", "value_type_meta_": "|b1"}),
            DataType::Boolean,
            1,
        ),
        (
            "vineyard::Tensor<datetime64[ns]>",
            json!({"shape_": "[2]", "value_type_": "datetime64[ns]", "value_type_meta_": "<M8[ns]"}),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            8,
        ),
        (
            "vineyard::Tensor<float16>",
            json!({"shape_": "[]", "value_type_meta_": "<f2", "numpy_scalar_": true}),
            DataType::Float16,
            2,
        ),
    ];
    for (typename, fields, data_type, size) in cases {
        let tensor_meta = create(
            &client,
            typename,
            fields,
            vec![("buffer_", blob(&client, &vec![1; 8 * size]))],
        );
        let tensor = tensor_of(resolve(&client, &tensor_meta).unwrap());
        assert_eq!(tensor.data_type, data_type, "{typename}");
        assert_eq!(tensor.values.len(), tensor.len() * size, "{typename}");
        assert!(!tensor.fortran_order);
    }
}

#[test]
fn numpy_one_dimensional_arrays() {
    let server = TestServer::start();
    let client = server.client();
    let meta = create(
        &client,
        "vineyard::Array",
        json!({"size_": 3, "value_type_": "uint16", "value_type_meta_": "<u2", "nbytes": 6}),
        vec![(
            "buffer_",
            blob(&client, &le_bytes(&[1u16, 2, 3], u16::to_le_bytes)),
        )],
    );
    let tensor = tensor_of(resolve(&client, &meta).unwrap());
    assert_eq!(tensor.shape, [3]);
    let array = resolve_array(&client, &meta).unwrap();
    assert_eq!(
        array.as_ref(),
        &UInt16Array::from(vec![1, 2, 3]) as &dyn Array
    );
    let empty = create(
        &client,
        "vineyard::Array",
        json!({"size_": 0, "value_type_": "float64", "value_type_meta_": "<f8"}),
        vec![("buffer_", blob(&client, &[]))],
    );
    assert!(resolve_array(&client, &empty).unwrap().is_empty());
}

#[test]
fn booleans_are_packed_when_flattened() {
    let server = TestServer::start();
    let client = server.client();
    let meta = create(
        &client,
        "vineyard::Tensor<bool>",
        json!({"shape_": "[2, 2]", "order_": "\"C\"", "value_type_": "bool", "value_type_meta_": "|b1"}),
        vec![("buffer_", blob(&client, &[1, 0, 0, 1]))],
    );
    let array = resolve_array(&client, &meta).unwrap();
    let expected = BooleanArray::from(vec![true, false, false, true]);
    assert_eq!(array.as_ref(), &expected as &dyn Array);
}

#[test]
fn dtypes_without_an_arrow_form_are_refused() {
    let server = TestServer::start();
    let client = server.client();
    let cases = [
        (
            "vineyard::Tensor<object>",
            json!({"shape_": "[1]", "value_type_": "object"}),
            "pickled Python objects",
        ),
        (
            "vineyard::Tensor<<U3>",
            json!({"shape_": "[1]", "value_type_": "str96", "value_type_meta_": "<U3"}),
            "`<U3` has no Arrow form",
        ),
        (
            "vineyard::Tensor<float64>",
            json!({"shape_": "[1]", "value_type_meta_": ">f8"}),
            "`>f8` has no Arrow form",
        ),
        (
            "vineyard::Tensor<V16>",
            json!({"shape_": "[1]", "value_type_descr_": "[[\"a\", \"<i8\"]]"}),
            "structured dtype",
        ),
    ];
    for (typename, fields, reason) in cases {
        let meta = create(
            &client,
            typename,
            fields,
            vec![("buffer_", blob(&client, &[0; 16]))],
        );
        let error = resolve(&client, &meta).unwrap_err();
        assert!(matches!(error, Error::UnsupportedValue { .. }), "{error}");
        assert!(error.to_string().contains(reason), "{error}");
    }
    let short = create(
        &client,
        "vineyard::Tensor<double>",
        json!({"shape_": "[4]", "value_type_meta_": "<f8"}),
        vec![("buffer_", blob(&client, &[0; 16]))],
    );
    let error = resolve(&client, &short).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("needs 32 bytes but `buffer_` holds 16"),
        "{error}"
    );
}
