"""Arrow Flight over TLS (`--rpc_tls_cert`, `--rpc_tls_key`) with a certificate authority
made for the test (trustme): `vineyard.connect('grpc+tls://...', tls_root_certs=...)` and
plain pyarrow TLS clients work, the token still counts, plain-text clients are refused with
an error that says what to do."""

from __future__ import annotations

import pytest
import vineyard

pa = pytest.importorskip("pyarrow")
flight = pytest.importorskip("pyarrow.flight")
trustme = pytest.importorskip("trustme")

ANY_PORT = ("--rpc_socket_port", "0")


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(start_server, authority, tmp_path):
    leaf = authority.issue_cert("127.0.0.1", "localhost")
    cert = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return start_server(
        "128Mi",
        *ANY_PORT,
        "--rpc_token",
        "s3cret",
        "--rpc_tls_cert",
        str(cert),
        "--rpc_tls_key",
        str(key),
    )


def test_tls_clients_work_and_the_token_still_counts(tls_server, authority):
    endpoint = vineyard.connect(tls_server.socket).rpc_endpoint
    assert endpoint.startswith("grpc+tls://127.0.0.1:"), endpoint
    root = authority.cert_pem.bytes()
    with vineyard.connect(endpoint, token="s3cret", tls_root_certs=root) as client:
        assert client.rpc_endpoint == endpoint
        table = pa.table({"x": [1, 2, 3], "y": ["a", "b", None]})
        assert client.get(client.put(table)).equals(table)
        assert client.get(client.put(b"secret bytes")) == b"secret bytes"
    with pytest.raises(vineyard.ConnectionFailedException, match="requires a token"):
        vineyard.connect(endpoint, tls_root_certs=root)

    plain_pyarrow = flight.FlightClient(endpoint, tls_root_certs=root)
    options = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer s3cret")])
    actions = {action.type for action in plain_pyarrow.list_actions(options)}
    assert "status" in actions
    plain_pyarrow.close()


def test_plain_text_clients_are_refused_clearly(tls_server):
    endpoint = vineyard.connect(tls_server.socket).rpc_endpoint
    address = endpoint.removeprefix("grpc+tls://")
    with pytest.raises(vineyard.ConnectionFailedException, match="grpc\\+tls://"):
        vineyard.connect(address, token="s3cret")
    plain = flight.FlightClient(f"grpc+tcp://{address}")
    with pytest.raises(pa.ArrowException, match="TLS only"):
        list(plain.list_actions())
    plain.close()


def test_tls_roots_need_a_tls_endpoint():
    with pytest.raises(ValueError, match="grpc\\+tls://"):
        vineyard.connect("127.0.0.1:1", tls_root_certs=b"pem")
