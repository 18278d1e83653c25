//! Flight over TLS (`--rpc_tls_cert`, `--rpc_tls_key`): rustls, with the handshake done here
//! rather than by tonic so that a plain-text client knocking on a TLS port is told what to do
//! instead of seeing its connection reset.
//!
//! Each accepted connection's first byte says what it speaks: a TLS handshake record starts
//! with 0x16, HTTP/2 in clear with `P` (its preface). TLS connections are handshaken (several
//! at a time, each within [`HANDSHAKE_TIMEOUT`]); plain ones are served only to answer every
//! call with [`Error::TlsRequired`].

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::Connected;

use crate::counted::CountedStream;
use crate::error::{Error, Result};

/// Longest a client may take to send its first byte and finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; further connections wait in the listen queue.
const CONCURRENT_HANDSHAKES: usize = 64;

/// The first byte of a TLS record carrying a handshake (a ClientHello, first of all).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The rustls configuration of a server with the PEM certificate chain at `cert` and the
/// PEM private key at `key`; errors name the flag to fix.
pub(crate) fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>> {
    let read = |path: &Path, flag: &str| {
        std::fs::read(path).map_err(|source| Error::Io {
            message: format!("cannot read {flag} {}", path.display()),
            source,
        })
    };
    let cert_pem = read(cert, "--rpc_tls_cert")?;
    let key_pem = read(key, "--rpc_tls_key")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            Error::invalid(format!(
                "--rpc_tls_cert {} is not a PEM certificate chain: {error}",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(Error::invalid(format!(
            "--rpc_tls_cert {} holds no certificate: give a PEM file with \
             -----BEGIN CERTIFICATE----- blocks",
            cert.display()
        )));
    }
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| {
        Error::invalid(format!(
            "--rpc_tls_key {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {error}",
            key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::invalid(format!("cannot set up TLS: {error}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|error| {
            Error::invalid(format!(
                "--rpc_tls_key {} does not go with --rpc_tls_cert {}: {error}",
                key.display(),
                cert.display()
            ))
        })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// What an accepted connection's calls are told, in request extensions.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionInfo {
    /// A plain-text client on a port that serves TLS: every call is refused.
    pub(crate) plain_on_tls_port: bool,
}

/// An accepted connection: plain, TLS, or plain on a TLS port (served only to refuse).
pub(crate) enum Connection {
    /// Plain text, on a plain-text port.
    Plain(CountedStream),
    /// TLS.
    Tls(Box<TlsStream<CountedStream>>),
    /// Plain text on a TLS port.
    Refused(CountedStream),
}

/// Connections from `accepted` as they should be served: as they are without TLS; with TLS,
/// handshaken (plain ones marked for refusal, failed handshakes dropped).
pub(crate) fn connections<S>(
    accepted: S,
    tls: Option<Arc<ServerConfig>>,
) -> Pin<Box<dyn Stream<Item = io::Result<Connection>> + Send>>
where
    S: Stream<Item = io::Result<CountedStream>> + Send + 'static,
{
    let Some(config) = tls else {
        return accepted.map(|stream| stream.map(Connection::Plain)).boxed();
    };
    let acceptor = TlsAcceptor::from(config);
    accepted
        .map(move |stream| {
            let acceptor = acceptor.clone();
            async move {
                let stream = stream?;
                tokio::time::timeout(HANDSHAKE_TIMEOUT, secure(acceptor, stream))
                    .await
                    .unwrap_or_else(|_| {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "a client took too long to start TLS",
                        ))
                    })
            }
        })
        .buffer_unordered(CONCURRENT_HANDSHAKES)
        .boxed()
}

/// Handshakes a connection that starts with a TLS record; marks any other for refusal.
async fn secure(acceptor: TlsAcceptor, stream: CountedStream) -> io::Result<Connection> {
    let mut first = [0u8; 1];
    let read = stream.tcp().peek(&mut first).await?;
    if read == 0 || first[0] != TLS_HANDSHAKE_RECORD {
        return Ok(Connection::Refused(stream));
    }
    let secured = acceptor.accept(stream).await?;
    Ok(Connection::Tls(Box::new(secured)))
}

impl Connected for Connection {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        ConnectionInfo {
            plain_on_tls_port: matches!(self, Connection::Refused(_)),
        }
    }
}

/// Runs `$call` on the connection's stream, whichever kind it is.
macro_rules! delegate {
    ($self:ident, $stream:ident => $call:expr) => {
        match $self.get_mut() {
            Connection::Plain($stream) | Connection::Refused($stream) => {
                let $stream = Pin::new($stream);
                $call
            }
            Connection::Tls($stream) => {
                let $stream = Pin::new($stream.as_mut());
                $call
            }
        }
    };
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, stream => stream.poll_read(cx, buf))
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, stream => stream.poll_write(cx, data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, stream => stream.poll_write_vectored(cx, buffers))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Connection::Plain(stream) | Connection::Refused(stream) => stream.is_write_vectored(),
            Connection::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, stream => stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, stream => stream.poll_shutdown(cx))
    }
}
