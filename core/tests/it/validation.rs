//! Every malformed request gets an error reply with a clear message; the server and other
//! clients carry on.

use serde_json::{json, Value};
use vineyard_core::Code;

use crate::raw_frames::{expect_error, RawConnection};
use vineyard_test_harness::TestServer;

const INVALID: i64 = 1;

/// Sends `message` on a registered raw connection; returns the error's code and message.
fn error_for(server: &TestServer, message: Value) -> (i64, String) {
    let mut raw = RawConnection::registered(server.socket());
    let reply = raw.request(&message);
    let error = expect_error(&reply);
    // The connection is still usable afterwards.
    let status = raw.request(&json!({"type": "instance_status_request"}));
    assert_eq!(status["type"], "instance_status_reply", "{status:?}");
    error
}

#[test]
fn oversized_frame_is_refused_then_that_connection_closes() {
    let server = TestServer::start();
    let bystander = server.client();
    let mut raw = RawConnection::registered(server.socket());
    raw.send_header((256 << 20) + 1);
    let (code, message) = expect_error(&raw.read_reply());
    assert_eq!(code, INVALID);
    assert!(
        message.contains("268435457") && message.contains("limit"),
        "{message}"
    );
    assert!(raw.is_closed_by_server());
    assert!(bystander.status().is_ok());
    assert!(server.client().put_bytes(b"still serving").is_ok());

    let mut huge = RawConnection::connect(server.socket());
    huge.send_header(u64::MAX);
    expect_error(&huge.read_reply());
    assert!(huge.is_closed_by_server());
}

#[test]
fn bad_json_is_code_1_and_the_connection_stays() {
    let server = TestServer::start();
    let mut raw = RawConnection::registered(server.socket());
    for body in [
        &b"{nope"[..],
        b"",
        b"\xff\xfe",
        b"[1, 2]",
        b"42",
        b"{\"type\": 3}",
        b"{}",
    ] {
        raw.send_body(body);
        let (code, message) = expect_error(&raw.read_reply());
        assert_eq!(code, INVALID, "{message}");
    }
    raw.send_body(b"{nope");
    let (_, message) = expect_error(&raw.read_reply());
    assert!(message.contains("not valid JSON"), "{message}");
    raw.send_body(b"[1]");
    let (_, message) = expect_error(&raw.read_reply());
    assert!(message.contains("JSON object"), "{message}");
    let status = raw.request(&json!({"type": "instance_status_request"}));
    assert_eq!(status["type"], "instance_status_reply");
}

#[test]
fn unknown_type_is_unexpected_command() {
    let server = TestServer::start();
    let (code, message) = error_for(&server, json!({"type": "frobnicate_request"}));
    assert_eq!(code, INVALID);
    assert!(
        message.contains("Got unexpected command: frobnicate_request"),
        "{message}"
    );
}

#[test]
fn wrong_field_types_name_the_field() {
    let server = TestServer::start();
    let cases = [
        (
            json!({"type": "create_buffer_request", "size": "x"}),
            "`size`",
        ),
        (
            json!({"type": "create_buffer_request", "size": -1}),
            "`size`",
        ),
        (json!({"type": "create_buffer_request"}), "`size`"),
        (
            json!({"type": "seal_request", "object_id": [1]}),
            "`object_id`",
        ),
        (json!({"type": "get_data_request", "id": {"a": 1}}), "`id`"),
        (
            json!({"type": "del_data_request", "id": [1], "force": "yes"}),
            "`force`",
        ),
        (
            json!({"type": "create_data_request", "content": 5}),
            "`content`",
        ),
        (
            json!({"type": "create_buffers_request", "sizes": [1, "2"]}),
            "`sizes`",
        ),
        (
            json!({"type": "put_name_request", "object_id": 1, "name": 7}),
            "`name`",
        ),
        (
            json!({"type": "list_name_request", "limit": "many"}),
            "`limit`",
        ),
        (json!({"type": "get_buffers_request", "num": 5}), "num"),
        (
            json!({"type": "seal_request", "object_id": "not-an-id"}),
            "not-an-id",
        ),
    ];
    for (request, field) in cases {
        let (code, message) = error_for(&server, request.clone());
        assert_eq!(code, INVALID, "{request}: {message}");
        assert!(
            message.contains(field),
            "{request}: `{message}` should name {field}"
        );
    }
}

#[test]
fn requests_before_register_are_refused() {
    let server = TestServer::start();
    let mut raw = RawConnection::connect(server.socket());
    let (code, message) = expect_error(&raw.request(&json!({"type": "instance_status_request"})));
    assert_eq!(code, INVALID);
    assert!(message.contains("not registered"), "{message}");
    // Registering afterwards works on the same connection.
    let reply = raw.request(&json!({"type": "register_request", "store_type": 1}));
    assert_eq!(reply["type"], "register_reply");
    assert_eq!(reply["store_match"], true);
    let status = raw.request(&json!({"type": "instance_status_request"}));
    assert_eq!(status["type"], "instance_status_reply");

    // A client asking for another store type is not registered.
    let mut plasma = RawConnection::connect(server.socket());
    let reply = plasma.request(&json!({"type": "register_request", "store_type": 2}));
    assert_eq!(reply["store_match"], false);
    let (_, message) = expect_error(&plasma.request(&json!({"type": "clear_request"})));
    assert!(message.contains("not registered"), "{message}");
}

#[test]
fn missing_ids_and_members_are_named() {
    let server = TestServer::start();
    let ghost = 0x8000_0000_0000_0777u64;
    let (code, message) = error_for(&server, json!({"type": "seal_request", "object_id": ghost}));
    assert_eq!(code, Code::ObjectNotExists.as_i64());
    assert!(message.contains("o8000000000000777"), "{message}");
    let (code, _) = error_for(&server, json!({"type": "drop_buffer_request", "id": ghost}));
    assert_eq!(code, Code::ObjectNotExists.as_i64());

    let tree = json!({"typename": "test::T", "instance_id": 0,
                      "missing_": {"id": "o0000000000000321"}});
    let (code, message) = error_for(
        &server,
        json!({"type": "create_data_request", "content": tree}),
    );
    assert_eq!(code, Code::MetaTreeInvalid.as_i64());
    assert!(
        message.contains("missing_") && message.contains("o0000000000000321"),
        "{message}"
    );

    let tree = json!({"typename": "test::T", "instance_id": 0, "anonymous_": {"typename": "x"}});
    let (_, message) = error_for(
        &server,
        json!({"type": "create_data_request", "content": tree}),
    );
    assert!(message.contains("anonymous_"), "{message}");

    // Missing objects in get_data are not errors: `content` is null.
    let mut raw = RawConnection::registered(server.socket());
    let reply = raw.request(&json!({"type": "get_data_request", "id": [ghost, 5]}));
    assert_eq!(reply["type"], "get_data_reply");
    assert_eq!(reply["content"], Value::Null);
}

#[test]
fn missing_typename_is_code_21() {
    let server = TestServer::start();
    let (code, message) = error_for(
        &server,
        json!({"type": "create_data_request", "content": {"instance_id": 0}}),
    );
    assert_eq!(code, Code::MetaTreeInvalid.as_i64());
    assert!(message.contains("typename"), "{message}");
    let (code, _) = error_for(
        &server,
        json!({"type": "create_data_request", "content": {"typename": 5, "instance_id": 0}}),
    );
    assert_eq!(code, 21);
}

#[test]
fn truncated_frame_closes_only_that_connection() {
    let server = TestServer::start();
    let bystander = server.client();
    let mut raw = RawConnection::registered(server.socket());
    raw.send_header(100);
    drop(raw);
    assert!(bystander.status().is_ok());
    assert_eq!(
        bystander.put_bytes(b"fine").map(|id| id.is_blob()).ok(),
        Some(true)
    );
}
