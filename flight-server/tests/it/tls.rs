//! Flight over TLS (`--rpc_tls_cert`, `--rpc_tls_key`) with a certificate made for the test:
//! TLS clients that trust it work (the token still counts), plain-text clients are refused
//! with an error that says what to do, clients that do not trust it cannot connect.

use std::path::PathBuf;

use tempfile::TempDir;
use tonic::Code;
use vineyard_core::server::{RpcOptions, RpcService};
use vineyard_flight_server::{FlightService, RemoteClient};

use crate::data::numbers;

use crate::fixture::flight_instance;
use crate::served::ServedFlight;

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
struct Certificate {
    _dir: TempDir,
    cert: PathBuf,
    key: PathBuf,
    pem: String,
}

fn certificate() -> Certificate {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("a certificate");
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let pem = made.cert.pem();
    std::fs::write(&cert, &pem).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    Certificate {
        _dir: dir,
        cert,
        key,
        pem,
    }
}

fn tls_options(certificate: &Certificate, token: Option<&str>) -> RpcOptions {
    RpcOptions {
        token: token.map(String::from),
        tls_cert: Some(certificate.cert.clone()),
        tls_key: Some(certificate.key.clone()),
        ..RpcOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_clients_that_trust_the_certificate_work_with_the_token() {
    let instance = flight_instance();
    let certificate = certificate();
    let served = ServedFlight::start(&instance, tls_options(&certificate, Some("s3cret")));
    assert!(
        served.endpoint().starts_with("grpc+tls://127.0.0.1:"),
        "the endpoint announces TLS: {}",
        served.endpoint()
    );
    let root = Some(certificate.pem.as_bytes());
    let mut remote = RemoteClient::connect_with(served.endpoint(), Some("s3cret"), root)
        .await
        .expect("TLS client connects");
    let batch = numbers(0, 1000);
    let id = remote
        .put_table(batch.schema(), vec![batch.clone()], None)
        .await
        .expect("put over TLS");
    let (_, got) = remote
        .get_batches(&id.to_string())
        .await
        .expect("get over TLS");
    assert_eq!(got, vec![batch]);

    // The token still counts over TLS.
    let mut wrong = RemoteClient::connect_with(served.endpoint(), Some("guess"), root)
        .await
        .unwrap();
    let error = wrong.status().await.expect_err("a wrong token");
    assert_eq!(error.code(), Code::Unauthenticated, "{error}");
    let mut none = RemoteClient::connect_with(served.endpoint(), None, root)
        .await
        .unwrap();
    let error = none.status().await.expect_err("no token");
    assert_eq!(error.code(), Code::Unauthenticated, "{error}");
    served.stop().await;
    instance.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_clients_are_refused_with_a_clear_error() {
    let instance = flight_instance();
    let certificate = certificate();
    let served = ServedFlight::start(&instance, tls_options(&certificate, None));
    let mut plain = RemoteClient::connect(served.address(), None)
        .await
        .expect("the TCP connection itself is accepted");
    let error = plain.status().await.expect_err("plain text is refused");
    assert_eq!(error.code(), Code::FailedPrecondition, "{error}");
    let message = error.to_string();
    assert!(message.contains("TLS only"), "{message}");
    assert!(message.contains("grpc+tls://"), "{message}");
    let error = plain
        .get_batches("anything")
        .await
        .expect_err("do_get is refused too");
    assert_eq!(error.code(), Code::FailedPrecondition, "{error}");

    // A TLS client that does not trust the certificate cannot connect.
    let untrusting = match RemoteClient::connect(served.endpoint(), None).await {
        Ok(mut client) => client.status().await.map(drop),
        Err(error) => Err(error),
    };
    assert!(untrusting.is_err(), "an untrusted certificate was accepted");
    served.stop().await;
    instance.stop();
}

#[test]
fn bad_certificate_files_are_named() {
    let certificate = certificate();
    let bind = |cert: PathBuf, key: PathBuf| {
        FlightService::new()
            .bind(&RpcOptions {
                host: "127.0.0.1".into(),
                port: 0,
                tls_cert: Some(cert),
                tls_key: Some(key),
                ..RpcOptions::default()
            })
            .expect_err("bad TLS files")
            .to_string()
    };
    let missing = bind(certificate.cert.clone(), "/no/such/key.pem".into());
    assert!(
        missing.contains("--rpc_tls_key /no/such/key.pem"),
        "{missing}"
    );
    let swapped = bind(certificate.key.clone(), certificate.cert.clone());
    assert!(swapped.contains("--rpc_tls_cert"), "{swapped}");
    let other = self::certificate();
    let mismatched = bind(certificate.cert.clone(), other.key.clone());
    assert!(mismatched.contains("does not go with"), "{mismatched}");
}

#[test]
fn clients_refuse_roots_for_plain_endpoints_and_unknown_schemes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime
        .block_on(RemoteClient::connect_with(
            "127.0.0.1:1",
            None,
            Some(b"pem"),
        ))
        .unwrap_err();
    assert!(error.to_string().contains("grpc+tls://"), "{error}");
    let error = runtime
        .block_on(RemoteClient::connect("ftp://127.0.0.1:1", None))
        .unwrap_err();
    assert!(error.to_string().contains("`ftp`"), "{error}");
}
