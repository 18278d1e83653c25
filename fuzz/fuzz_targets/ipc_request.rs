//! The IPC frame decoder and request parser, as the server runs them on every frame a client
//! sends: the first 8 bytes are tried as a frame header, the whole input as a frame body.
//! Whatever arrives, decoding and parsing must return (an error is fine), never panic; and a
//! request that parses must survive its own encoding: `parse(to_json(r)) == r`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vineyard_core::protocol::frame::{self, HEADER_LEN};
use vineyard_core::protocol::Request;

fuzz_target!(|data: &[u8]| {
    if let Some(header) = data.first_chunk::<HEADER_LEN>() {
        if let Ok(len) = frame::body_len(*header) {
            assert!(len as u64 <= frame::MAX_FRAME);
        }
    }
    let Ok(message) = frame::decode_body(data) else {
        return;
    };
    let Ok(request) = Request::parse(&message) else {
        return;
    };
    let _ = request.reply_type();
    let encoded = request.to_json();
    // What the client writes is what the server reads back.
    let framed = frame::encode(&encoded);
    let decoded = frame::read_blocking(&mut &framed[..]).expect("an encoded frame decodes");
    assert_eq!(Value::Object(decoded.clone()), encoded);
    let again = Request::parse(&decoded).expect("an encoded request parses");
    assert_eq!(
        again, request,
        "the request changed through to_json and parse"
    );
});
