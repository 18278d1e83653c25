//! Resolving from blobs fetched with the tree (`FetchedBlobs`): one `get_objects` round trip,
//! no request per member; a blob that was not fetched is an error that names it.

use serde_json::json;
use vineyard_core::Error as CoreError;
use vineyard_resolvers::{resolve_array, Error, FetchedBlobs};
use vineyard_test_harness::TestServer;

use crate::{blob, create, le_bytes};

#[test]
fn a_tree_resolves_from_the_blobs_fetched_with_it() {
    let server = TestServer::start();
    let client = server.client();
    let values = le_bytes(&[1i64, 2, 3], i64::to_le_bytes);
    let array = create(
        &client,
        "vineyard::NumericArray<int64>",
        json!({"length_": 3, "null_count_": 0, "offset_": 0}),
        vec![
            ("buffer_", blob(&client, &values)),
            ("null_bitmap_", blob(&client, &[])),
        ],
    );
    let (trees, blobs) = client.get_objects(&[array.id().unwrap()]).unwrap();
    let fetched = FetchedBlobs::new(blobs);
    let resolved = resolve_array(&fetched, &trees[0]).unwrap();
    let from_client = resolve_array(&client, &array).unwrap();
    assert_eq!(resolved.as_ref(), from_client.as_ref());
    // The buffers are the fetched blobs' memory: no copy.
    let buffer = resolved.to_data().buffers()[0].as_ptr();
    let fetched_blob = fetched
        .get(array.member("buffer_").unwrap().id().unwrap())
        .unwrap();
    assert_eq!(buffer, fetched_blob.as_ptr());

    let missing = resolve_array(&FetchedBlobs::new([]), &trees[0]).unwrap_err();
    assert!(
        matches!(missing, Error::Core(CoreError::ObjectNotExists { .. })),
        "{missing}"
    );
}
