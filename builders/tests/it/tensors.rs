//! Tensors: C and Fortran order, every numpy-compatible dtype, invalid tensors.

use arrow::buffer::Buffer;
use arrow::datatypes::{DataType, TimeUnit};
use serde_json::Value;
use vineyard_builders::{put_tensor, Error};
use vineyard_resolvers::{resolve, to_record_batches, Resolved, Tensor};

use vineyard_test_harness::TestServer;

fn tensor(shape: Vec<usize>, data_type: DataType, values: Vec<u8>, fortran_order: bool) -> Tensor {
    Tensor {
        shape,
        data_type,
        values: Buffer::from_vec(values),
        fortran_order,
    }
}

#[test]
fn tensors_round_trip() {
    let server = TestServer::start();
    let client = server.client();
    let doubles: Vec<u8> = (0..6)
        .flat_map(|v| (v as f64 * 1.5).to_le_bytes())
        .collect();
    let ints: Vec<u8> = (0..12i32).flat_map(|v| (v - 4).to_le_bytes()).collect();
    let cases = [
        tensor(vec![2, 3], DataType::Float64, doubles.clone(), false),
        tensor(vec![3, 2], DataType::Float64, doubles, true),
        tensor(vec![2, 3, 2], DataType::Int32, ints.clone(), true),
        tensor(vec![12], DataType::UInt32, ints.clone(), false),
        tensor(vec![4], DataType::Boolean, vec![1, 0, 0, 1], false),
        tensor(vec![], DataType::Int64, 42i64.to_le_bytes().to_vec(), false),
        tensor(vec![0, 3], DataType::Float32, vec![], false),
        tensor(vec![3], DataType::Float16, vec![0, 60, 0, 64, 0, 0], false),
        tensor(
            vec![2, 2],
            DataType::Int16,
            vec![1, 0, 2, 0, 3, 0, 4, 0],
            false,
        ),
        tensor(vec![1, 1], DataType::UInt8, vec![7], false),
        tensor(
            vec![3],
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            ints[..24].to_vec(),
            false,
        ),
        tensor(
            vec![1],
            DataType::Duration(TimeUnit::Second),
            ints[..8].to_vec(),
            false,
        ),
    ];
    for case in cases {
        let meta = put_tensor(&client, &case).unwrap();
        let stored = client.get_metadata(meta.id().unwrap()).unwrap();
        let Resolved::Tensor(resolved) = resolve(&client, &stored).unwrap() else {
            panic!("not a tensor: {stored:?}");
        };
        assert_eq!(resolved, case, "tree: {stored:?}");
    }
}

#[test]
fn tensor_trees_follow_the_python_layout() {
    let server = TestServer::start();
    let client = server.client();
    let values: Vec<u8> = (0..6).flat_map(|v| (v as f64).to_le_bytes()).collect();
    let meta = put_tensor(
        &client,
        &tensor(vec![3, 2], DataType::Float64, values, true),
    )
    .unwrap();
    assert_eq!(meta.typename(), Some("vineyard::Tensor<double>"));
    assert_eq!(meta.get("shape_"), Some(&Value::from("[3,2]")));
    assert_eq!(meta.get("order_"), Some(&Value::from("\"F\"")));
    assert_eq!(meta.get("value_type_"), Some(&Value::from("float64")));
    assert_eq!(meta.get("value_type_meta_"), Some(&Value::from("<f8")));
    assert_eq!(meta.get("partition_index_"), Some(&Value::from("[]")));
    assert_eq!(meta.nbytes(), 48);
    let ints = put_tensor(
        &client,
        &tensor(vec![1], DataType::Int32, vec![0; 4], false),
    )
    .unwrap();
    assert_eq!(ints.typename(), Some("vineyard::Tensor<int>"));
}

#[test]
fn tensors_stream_as_one_flat_column() {
    let server = TestServer::start();
    let client = server.client();
    let values: Vec<u8> = (0..6).flat_map(|v| (v as i64).to_le_bytes()).collect();
    let meta = put_tensor(&client, &tensor(vec![2, 3], DataType::Int64, values, true)).unwrap();
    let (schema, batches) = to_record_batches(resolve(&client, &meta).unwrap()).unwrap();
    assert_eq!(schema.metadata()["vineyard.shape"], "[2,3]");
    assert_eq!(schema.metadata()["vineyard.order"], "F");
    assert_eq!(schema.field(0).name(), "value");
    assert_eq!(batches.len(), 1);
    let column = batches[0].column(0);
    assert_eq!(
        column.as_ref(),
        &arrow::array::Int64Array::from_iter_values(0..6) as &dyn arrow::array::Array
    );
}

#[test]
fn invalid_tensors_are_refused() {
    let server = TestServer::start();
    let client = server.client();
    let short = tensor(vec![2, 2], DataType::Float64, vec![0; 24], false);
    let error = put_tensor(&client, &short).unwrap_err();
    assert!(matches!(error, Error::InvalidTensor { .. }), "{error}");
    assert!(error.to_string().contains("needs 32 bytes"), "{error}");
    let strings = tensor(vec![1], DataType::Utf8, vec![], false);
    let error = put_tensor(&client, &strings).unwrap_err();
    assert!(error.to_string().contains("numpy has no dtype"), "{error}");
}
