//! Telling a Flight client from a Vineyard RPC client by the first bytes it sends.
//!
//! Both speak first. An HTTP/2 client (gRPC, Flight) opens with the preface
//! `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, a TLS client with a handshake record (0x16); a Vineyard
//! RPC client with an 8-byte little-endian frame length (of a `register_request`, a few
//! hundred bytes). A length whose bytes spell the preface's first eight (or a TLS record's)
//! would be petabytes long, so the first eight bytes decide.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;

/// What a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// HTTP/2 (Arrow Flight), in clear or over TLS.
    Flight,
    /// Vineyard's RPC protocol: length-prefixed JSON frames.
    VineyardRpc,
}

/// The start of the HTTP/2 client preface.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;
/// Bytes that decide.
const DECIDING: usize = 8;
/// How long a client may take to send them.
pub(crate) const SNIFF_TIMEOUT: Duration = Duration::from_secs(10);
/// Between peeks while fewer than [`DECIDING`] bytes have arrived.
const PEEK_PAUSE: Duration = Duration::from_millis(2);

/// What `head`, the first bytes a client sent, says; `None` if it needs more bytes.
pub(crate) fn classify(head: &[u8]) -> Option<Protocol> {
    let &first = head.first()?;
    if first == TLS_HANDSHAKE {
        return Some(Protocol::Flight);
    }
    let compared = head.len().min(DECIDING);
    if head[..compared] != HTTP2_PREFACE[..compared] {
        return Some(Protocol::VineyardRpc);
    }
    (head.len() >= DECIDING).then_some(Protocol::Flight)
}

/// Waits for the client's first bytes (without consuming them) and says what it speaks; an
/// error if it closes or stays silent for [`SNIFF_TIMEOUT`].
pub(crate) async fn sniff(stream: &TcpStream) -> io::Result<Protocol> {
    let decide = async {
        let mut head = [0u8; DECIDING];
        loop {
            let read = stream.peek(&mut head).await?;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the client closed the connection before sending anything",
                ));
            }
            if let Some(protocol) = classify(&head[..read]) {
                return Ok(protocol);
            }
            tokio::time::sleep(PEEK_PAUSE).await;
        }
    };
    tokio::time::timeout(SNIFF_TIMEOUT, decide)
        .await
        .unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "a client sent nothing for 10 s after connecting",
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bytes_decide() {
        assert_eq!(classify(HTTP2_PREFACE), Some(Protocol::Flight));
        assert_eq!(classify(&[0x16, 0x03, 0x01]), Some(Protocol::Flight));
        let register = 180u64.to_le_bytes();
        assert_eq!(classify(&register), Some(Protocol::VineyardRpc));
        assert_eq!(classify(&register[..1]), Some(Protocol::VineyardRpc));
        // A frame of exactly 80 bytes starts with `P` too: the next byte decides.
        let eighty = 80u64.to_le_bytes();
        assert_eq!(classify(&eighty[..1]), None);
        assert_eq!(classify(&eighty[..2]), Some(Protocol::VineyardRpc));
        assert_eq!(classify(b"PRI * H"), None);
        assert_eq!(classify(b""), None);
    }
}
