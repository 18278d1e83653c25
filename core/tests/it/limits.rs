//! Metadata and requests are bounded: bytes per object and in all (counted in `status`),
//! name length, members per object, request size, and bytes of large requests read at once.
//! Going past a limit is an error that names its flag; the server keeps serving.

use serde_json::{json, Value};
use vineyard_core::table::Limits;
use vineyard_core::{Code, ObjectMeta};

use crate::raw_frames::RawConnection;
use vineyard_test_harness::TestServer;

fn small_limits() -> Limits {
    Limits {
        object_metadata: 64 << 10,
        metadata: 1 << 20,
        name_length: 64,
        members: 100,
    }
}

fn server() -> TestServer {
    TestServer::builder()
        .config(|config| {
            config.limits = small_limits();
            config.max_request_size = 4 << 20;
            config.max_request_memory = 6 << 20;
        })
        .start()
}

fn tree_with_field(bytes: usize) -> ObjectMeta {
    let mut meta = ObjectMeta::with_typename("test::Big");
    meta.insert("payload_", "x".repeat(bytes));
    meta
}

#[test]
fn an_object_past_the_metadata_or_member_limit_is_refused() {
    let server = server();
    let client = server.client();
    let error = client
        .create_metadata(&tree_with_field(70 << 10))
        .unwrap_err();
    assert_eq!(error.code(), Code::Invalid, "{error}");
    assert!(
        error.to_string().contains("--max_object_metadata"),
        "{error}"
    );
    client.create_metadata(&tree_with_field(60 << 10)).unwrap();

    let blob = client.put_bytes(b"member").unwrap();
    let mut wide = ObjectMeta::with_typename("test::Wide");
    for index in 0..101 {
        wide.add_member_id(&format!("m{index}"), blob);
    }
    let error = client.create_metadata(&wide).unwrap_err();
    assert!(error.to_string().contains("--max_members"), "{error}");
    wide.as_map_mut().remove("m100");
    client.create_metadata(&wide).unwrap();
}

#[test]
fn metadata_in_all_is_counted_and_bounded() {
    let server = server();
    let client = server.client();
    let before = client.status().unwrap();
    assert_eq!(before.metadata_limit, 1 << 20);
    let mut ids = Vec::new();
    let error = loop {
        match client.create_metadata(&tree_with_field(50 << 10)) {
            Ok(meta) => ids.push(meta.id().unwrap()),
            Err(error) => break error,
        }
        assert!(ids.len() < 100, "the total limit never held");
    };
    assert_eq!(error.code(), Code::NotEnoughMemory, "{error}");
    assert!(error.to_string().contains("--max_metadata"), "{error}");
    assert!((15..=21).contains(&ids.len()), "{} objects fit", ids.len());
    let full = client.status().unwrap();
    assert!(full.metadata_usage > (50 * 15) << 10, "{full:?}");
    assert!(full.metadata_usage <= 1 << 20, "{full:?}");
    client.delete(&ids, false, true).unwrap();
    let after = client.status().unwrap();
    assert_eq!(after.metadata_usage, before.metadata_usage);
    client.create_metadata(&tree_with_field(50 << 10)).unwrap();
}

#[test]
fn names_are_bounded_and_counted() {
    let server = server();
    let client = server.client();
    let id = client
        .create_metadata(&tree_with_field(10))
        .unwrap()
        .id()
        .unwrap();
    client.persist(id).unwrap();
    let error = client.put_name(id, &"n".repeat(65)).unwrap_err();
    assert!(error.to_string().contains("--max_name_length"), "{error}");
    let before = client.status().unwrap().metadata_usage;
    client.put_name(id, &"n".repeat(64)).unwrap();
    let named = client.status().unwrap().metadata_usage;
    assert!(named > before + 64, "{before} -> {named}");
    client.drop_name(&"n".repeat(64)).unwrap();
    assert_eq!(client.status().unwrap().metadata_usage, before);
}

fn code_of(reply: &serde_json::Map<String, Value>) -> i64 {
    reply.get("code").and_then(Value::as_i64).unwrap_or(0)
}

#[test]
fn a_request_past_the_size_limit_is_refused_and_others_go_on() {
    let server = server();
    let mut raw = RawConnection::registered(server.socket());
    raw.send_header(5 << 20);
    let reply = raw.read_reply();
    assert_eq!(code_of(&reply), 1, "{reply:?}");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("--max_request_size"),
        "{reply:?}"
    );
    assert!(server.client().status().is_ok());
}

#[test]
fn large_requests_read_at_once_are_bounded_across_connections() {
    let server = server();
    let mut first = RawConnection::registered(server.socket());
    let mut second = RawConnection::registered(server.socket());
    // The first announces 4 MiB and sends part of it: its budget is held meanwhile.
    let mut body = serde_json::to_vec(&json!({"type": "debug_command", "debug": "x"})).unwrap();
    body.resize(4 << 20, b' ');
    first.send_header(body.len() as u64);
    first.send_raw(&body[..1024]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    second.send_header(3 << 20);
    let reply = second.read_reply();
    assert_eq!(code_of(&reply), 41, "{reply:?}");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("--max_request_memory"),
        "{reply:?}"
    );
    // Small requests of others go on meanwhile.
    let client = server.client();
    assert!(client.status().is_ok());
    // Once the first request is in (and handled), the budget is free again.
    first.send_raw(&body[1024..]);
    let reply = first.read_reply();
    assert_eq!(reply.get("type"), Some(&json!("debug_reply")), "{reply:?}");
    let mut third = RawConnection::registered(server.socket());
    let mut large = serde_json::to_vec(&json!({"type": "debug_command", "debug": "y"})).unwrap();
    large.resize(3 << 20, b' ');
    third.send_body(&large);
    let reply = third.read_reply();
    assert_eq!(reply.get("type"), Some(&json!("debug_reply")), "{reply:?}");
}

#[test]
fn a_client_cut_off_mid_request_reports_why() {
    let server = server();
    let client = server.client();
    // The server refuses the frame from its header and closes the connection: the client's
    // write runs into a broken pipe, and it reports the server's reason instead.
    let error = client
        .create_metadata(&tree_with_field(5 << 20))
        .unwrap_err();
    assert!(error.to_string().contains("--max_request_size"), "{error}");
    let error = client.status().unwrap_err();
    assert_eq!(error.code(), Code::ConnectionError, "{error}");
    assert!(server.client().status().is_ok());
}
