//! Resolved buffers are the blobs' memory, and keep it alive.

use arrow::array::*;
use vineyard_resolvers::{resolve, Resolved};

use crate::round_trip;
use vineyard_test_harness::TestServer;

#[test]
fn resolved_buffers_point_into_the_blobs() {
    let server = TestServer::start();
    let client = server.client();
    let (meta, resolved) = round_trip(&client, &Int64Array::from_iter_values(0..1000));
    let blob = client
        .get_blob(meta.member("buffer_").unwrap().id().unwrap())
        .unwrap();
    assert_eq!(resolved.to_data().buffers()[0].as_ptr(), blob.as_ptr());

    let strings = StringArray::from_iter_values((0..100).map(|v| format!("value {v}")));
    let (meta, resolved) = round_trip(&client, &strings);
    let data = client
        .get_blob(meta.member("buffer_data_").unwrap().id().unwrap())
        .unwrap();
    let offsets = client
        .get_blob(meta.member("buffer_offsets_").unwrap().id().unwrap())
        .unwrap();
    let resolved = resolved.as_string::<i32>();
    assert_eq!(resolved.values().as_ptr(), data.as_ptr());
    assert_eq!(
        resolved.offsets().inner().inner().as_ptr(),
        offsets.as_ptr()
    );
}

#[test]
fn tensor_values_point_into_the_blob() {
    let server = TestServer::start();
    let client = server.client();
    let tensor = vineyard_resolvers::Tensor {
        shape: vec![4, 4],
        data_type: arrow::datatypes::DataType::Float32,
        values: arrow::buffer::Buffer::from_vec(vec![1.5f32; 16]),
        fortran_order: false,
    };
    let meta = vineyard_builders::put_tensor(&client, &tensor).unwrap();
    let blob = client
        .get_blob(meta.member("buffer_").unwrap().id().unwrap())
        .unwrap();
    let Resolved::Tensor(resolved) = resolve(&client, &meta).unwrap() else {
        panic!("not a tensor");
    };
    assert_eq!(resolved.values.as_ptr(), blob.as_ptr());
    let flat = resolved.to_array().unwrap();
    assert_eq!(flat.to_data().buffers()[0].as_ptr(), blob.as_ptr());
}

#[test]
fn resolved_arrays_outlive_their_client_and_a_delete() {
    let server = TestServer::start();
    let expected = Int64Array::from_iter_values(0..50_000);
    let resolved = {
        let client = server.client();
        let (meta, resolved) = round_trip(&client, &expected);
        let other = server.client();
        other.delete(&[meta.id().unwrap()], true, true).unwrap();
        resolved
    };
    // Were the blob freed, these puts would reuse (and overwrite) its memory.
    let client = server.client();
    for _ in 0..4 {
        vineyard_builders::put_array(&client, &Int64Array::from_value(-1, 50_000)).unwrap();
    }
    assert_eq!(
        resolved.as_primitive::<arrow::datatypes::Int64Type>(),
        &expected
    );
}
