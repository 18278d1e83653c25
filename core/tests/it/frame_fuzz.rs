//! Property: whatever bytes arrive as a frame body, the server answers with one well-formed
//! JSON error frame, keeps the connection, and keeps serving everyone else.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};

use crate::raw_frames::{expect_error, RawConnection};
use vineyard_test_harness::TestServer;

/// Request types whose replies are plain frames (no fds follow, never deferred, not `exit`).
const TYPES: &[&str] = &[
    "register_request",
    "seal_request",
    "drop_buffer_request",
    "shrink_buffer_request",
    "release_request",
    "create_data_request",
    "create_datas_request",
    "get_data_request",
    "list_data_request",
    "del_data_request",
    "del_data_with_feedbacks_request",
    "exists_request",
    "persist_request",
    "if_persist_request",
    "put_name_request",
    "list_name_request",
    "drop_name_request",
    "increase_reference_count_request",
    "no_such_request",
];

const KEYS: &[&str] = &[
    "id",
    "ids",
    "object_id",
    "size",
    "sizes",
    "num",
    "0",
    "name",
    "content",
    "contents",
    "pattern",
    "regex",
    "limit",
    "force",
    "deep",
    "fastpath",
    "store_type",
];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|number| json!(number)),
        ".{0,12}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_0-9]{0,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A request-shaped object: a known type with random fields of random types.
fn request_like() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(TYPES),
        proptest::collection::vec((proptest::sample::select(KEYS), json_value()), 0..5),
    )
        .prop_map(|(kind, fields)| {
            let mut message: Map<String, Value> = fields
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect();
            message.insert("type".into(), kind.into());
            serde_json::to_vec(&message).expect("encode")
        })
}

fn frame_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        ".{0,256}".prop_map(String::into_bytes),
        json_value().prop_map(|value| serde_json::to_vec(&value).expect("encode")),
        request_like(),
    ]
}

#[test]
fn any_frame_body_gets_a_json_reply_and_the_server_lives() {
    let server = TestServer::start();
    let bystander = server.client();
    let raw = RefCell::new(RawConnection::registered(server.socket()));
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&frame_body(), |body| {
        let mut raw = raw.borrow_mut();
        raw.send_body(&body);
        let reply = raw.read_reply();
        raw.skip_announced_fds(&reply);
        if reply.get("code").and_then(Value::as_i64).unwrap_or(0) != 0 {
            expect_error(&reply);
        } else {
            // Some generated requests are valid: their reply names its type.
            prop_assert!(
                reply.get("type").and_then(Value::as_str).is_some(),
                "success reply without a type: {reply:?}"
            );
            // A successful `register_request` with a wrong store type unregisters; register
            // again so that later cases test the requests, not the handshake.
            if reply.get("store_match") == Some(&Value::Bool(false)) {
                *raw = RawConnection::registered(server.socket());
            }
        }
        bystander
            .status()
            .map_err(|error| TestCaseError::fail(format!("bystander failed: {error}")))?;
        Ok(())
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
    assert!(server.client().put_bytes(b"alive").is_ok());
}

#[test]
fn any_bytes_before_register_get_a_json_reply() {
    let server = TestServer::start();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&proptest::collection::vec(any::<u8>(), 0..256), |body| {
        let mut raw = RawConnection::connect(server.socket());
        raw.send_body(&body);
        let reply = raw.read_reply();
        prop_assert!(
            reply.contains_key("code") || reply.contains_key("type"),
            "{reply:?}"
        );
        Ok(())
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
    assert!(server.client().status().is_ok());
}
