//! Vineyard's own RPC protocol on the Flight port: a client speaking length-prefixed JSON
//! (as Vineyard 0.24.2's `RPCClient` does) is served beside Flight clients on one port; bad
//! frames get an error reply or a closed connection, never a stuck port; blob bytes that stop
//! half-way leave nothing behind.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Map, Value};
use vineyard_core::ObjectID;

use crate::fixture::{flight_instance, FlightClients};

/// A Vineyard RPC client over a blocking TCP stream.
struct RpcClient {
    stream: TcpStream,
}

impl RpcClient {
    fn connect(endpoint: &str) -> RpcClient {
        let stream = TcpStream::connect(endpoint).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        RpcClient { stream }
    }

    fn registered(endpoint: &str) -> RpcClient {
        let mut client = RpcClient::connect(endpoint);
        let reply = client
            .call(json!({"type": "register_request", "version": "0.24.2", "store_type": "Normal"}));
        assert_eq!(reply["type"], "register_reply", "{reply:?}");
        assert_eq!(reply["support_rpc_compression"], true, "{reply:?}");
        assert!(
            reply.get("meta_index").is_none(),
            "IPC-only offers are not made: {reply:?}"
        );
        client
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    fn send(&mut self, request: Value) {
        let body = request.to_string();
        self.send_raw(&(body.len() as u64).to_le_bytes());
        self.send_raw(body.as_bytes());
    }

    /// The next reply, or `None` if the server closed the connection.
    fn reply(&mut self) -> Option<Map<String, Value>> {
        let mut header = [0u8; 8];
        if self.stream.read_exact(&mut header).is_err() {
            return None;
        }
        let mut body = vec![0u8; u64::from_le_bytes(header) as usize];
        self.stream.read_exact(&mut body).ok()?;
        match serde_json::from_slice(&body).expect("JSON reply") {
            Value::Object(map) => Some(map),
            other => panic!("a reply must be an object, got {other}"),
        }
    }

    fn call(&mut self, request: Value) -> Map<String, Value> {
        self.send(request);
        self.reply().expect("a reply")
    }

    fn read_bytes(&mut self, size: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; size];
        self.stream.read_exact(&mut bytes).expect("blob bytes");
        bytes
    }
}

fn error_message(reply: &Map<String, Value>) -> String {
    assert!(
        reply["code"].as_i64().unwrap_or(0) != 0,
        "expected an error: {reply:?}"
    );
    reply["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_port_serves_vineyard_rpc_clients_and_flight_clients() {
    let instance = flight_instance();
    let endpoint = instance.endpoint().to_string();
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let (blob, sent) = {
        let endpoint = endpoint.clone();
        let payload = payload.clone();
        tokio::task::spawn_blocking(move || {
            let mut rpc = RpcClient::registered(&endpoint);
            let go_on = rpc.call(json!({"type": "create_remote_buffer_request", "size": payload.len(), "compress": false}));
            assert_eq!(go_on["type"], "create_buffer_reply", "{go_on:?}");
            rpc.send_raw(&payload);
            let done = rpc.reply().expect("the confirmation");
            assert_eq!(done["created"]["is_sealed"], true, "{done:?}");
            let blob = ObjectID(done["id"].as_u64().expect("id"));
            // Forwarded to the instance as IPC requests.
            let status = rpc.call(json!({"type": "instance_status_request"}));
            assert!(status["meta"]["memory_usage"].as_u64().unwrap() >= payload.len() as u64);
            let got = rpc.call(json!({"type": "get_remote_buffers_request", "num": 1, "0": blob.0, "compress": false}));
            assert_eq!(got["type"], "get_buffers_reply", "{got:?}");
            assert_eq!(got["payloads"][0]["data_size"], payload.len());
            (blob, rpc.read_bytes(payload.len()))
        })
        .await
        .unwrap()
    };
    assert!(sent == payload);
    // A Flight client on the same port reads the same blob.
    let mut remote = instance.remote().await;
    assert!(remote.get_blob(blob).await.expect("flight reads the blob") == payload);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_errors_or_a_closed_connection_and_the_port_keeps_serving() {
    let instance = flight_instance();
    let endpoint = instance.endpoint().to_string();
    let ipc = instance.client();
    let before = ipc.status().expect("status").memory_usage;
    let checked = endpoint.clone();
    tokio::task::spawn_blocking(move || {
        let endpoint = checked;
        // Before registering: refused, the connection goes on.
        let mut early = RpcClient::connect(&endpoint);
        let reply = early.call(json!({"type": "get_data_request", "id": [1]}));
        assert!(error_message(&reply).contains("register first"), "{reply:?}");

        let mut rpc = RpcClient::registered(&endpoint);
        // An unknown request type: the instance's error, then the next request works.
        let reply = rpc.call(json!({"type": "explode_request"}));
        error_message(&reply);
        // Not JSON, and JSON without a type: error replies.
        rpc.send_raw(&5u64.to_le_bytes());
        rpc.send_raw(b"{nope");
        error_message(&rpc.reply().expect("a reply to bad JSON"));
        let reply = rpc.call(json!({"no": "type"}));
        assert!(error_message(&reply).contains("needs a `type`"), "{reply:?}");
        // Requests that hand out fds name what to send instead.
        let reply = rpc.call(json!({"type": "create_buffer_request", "size": 10}));
        assert!(error_message(&reply).contains("create_remote_buffer_request"), "{reply:?}");
        // Bad remote requests.
        let reply = rpc.call(json!({"type": "create_remote_buffer_request", "size": "big"}));
        assert!(error_message(&reply).contains("byte count"), "{reply:?}");
        let reply = rpc.call(json!({"type": "get_remote_buffers_request", "num": 1, "0": 12345u64 | (1 << 63)}));
        error_message(&reply);
        let status = rpc.call(json!({"type": "instance_status_request"}));
        assert_eq!(status["type"], "instance_status_reply");

        // A frame longer than the limit: an error reply, then the connection is closed.
        let mut huge = RpcClient::registered(&endpoint);
        huge.send_raw(&(1u64 << 40).to_le_bytes());
        let reply = huge.reply().expect("an explanation");
        assert!(error_message(&reply).contains("--rpc_max_message_size"), "{reply:?}");
        assert!(huge.reply().is_none(), "the connection is closed");

        // A frame cut short by a client that goes away: the connection just ends.
        let mut cut = RpcClient::registered(&endpoint);
        cut.send_raw(&100u64.to_le_bytes());
        cut.send_raw(b"{\"type\":");
        drop(cut);

        // Blob bytes that stop half-way: nothing is kept.
        let mut half = RpcClient::registered(&endpoint);
        let go_on = half.call(json!({"type": "create_remote_buffers_request", "sizes": [1000000, 1000000], "compress": false}));
        assert_eq!(go_on["type"], "create_buffers_reply", "{go_on:?}");
        half.send_raw(&vec![7u8; 1_500_000]);
        drop(half);

        // Compressed bytes that are not zstd: an error reply, nothing kept, connection closed.
        let mut garbage = RpcClient::registered(&endpoint);
        let go_on = garbage.call(json!({"type": "create_remote_buffer_request", "size": 100, "compress": true}));
        assert_eq!(go_on["type"], "create_buffer_reply", "{go_on:?}");
        garbage.send_raw(&5u64.to_le_bytes());
        garbage.send_raw(b"hello");
        error_message(&garbage.reply().expect("an error reply"));
        assert!(garbage.reply().is_none(), "the connection is closed");
    })
    .await
    .unwrap();
    instance.wait_for_memory_usage(before);
    // The port still serves both protocols.
    let mut remote = instance.remote().await;
    remote.status().await.expect("Flight still answers");
    tokio::task::spawn_blocking(move || {
        let mut rpc = RpcClient::registered(&endpoint);
        let status = rpc.call(json!({"type": "instance_status_request"}));
        assert_eq!(status["type"], "instance_status_reply");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_put_stores_blobs_and_trees_all_or_nothing() {
    let instance = flight_instance();
    let ipc = instance.client();
    let before = ipc.status().expect("status").memory_usage;
    let mut remote = instance.remote().await;
    let blob = ObjectID(0x8000_0000_0000_0042);
    let object = ObjectID(0x42);
    let bytes = vec![9u8; 5 << 20];
    let instance_id = ipc.instance_id();
    let tree = vineyard_core::ObjectMeta::from_json(json!({
        "typename": "my::Thing",
        "instance_id": instance_id,
        "buffer_": {"id": blob.to_string(), "typename": "vineyard::Blob", "length": bytes.len(), "nbytes": bytes.len(), "instance_id": instance_id, "transient": true},
    }))
    .unwrap();
    let ids = remote
        .put_objects(&[(blob, &bytes)], &[(object, tree.clone())])
        .await
        .expect("stored");
    let stored = ids[&object];
    let meta = ipc.get_metadata(stored).expect("created");
    assert_eq!(meta.typename(), Some("my::Thing"));
    let real_blob = ids[&blob];
    assert_eq!(meta.as_map()["buffer_"]["id"], real_blob.to_string());
    assert_eq!(ipc.get_blob(real_blob).expect("blob")[..], bytes[..]);
    remote.delete(&[stored], true, true).await.expect("deleted");
    instance.wait_for_memory_usage(before);

    // A tree the instance refuses (a member that does not exist): the blobs go too.
    let mut bad = tree.clone();
    bad.as_map_mut()
        .insert("other_".into(), json!({"id": "o0000000000abcdef"}));
    let error = remote
        .put_objects(&[(blob, &bytes)], &[(object, bad)])
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("o0000000000abcdef"), "{error}");
    instance.wait_for_memory_usage(before);
}
