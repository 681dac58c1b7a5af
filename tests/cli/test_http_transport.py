"""The client's transport (amlite.http_transport): plain http:// costs no TLS context, https://
is verified as httpx verifies it, and proxy variables leave httpx its own transport."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from amlite.http_transport import TlsOnDemand, for_client


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def _serve(tls: ssl.SSLContext | None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_url() -> Iterator[str]:
    yield from _serve(None)


@pytest.fixture
def self_signed_url(tmp_path: Path) -> Iterator[str]:
    """An https server whose certificate no CA signed."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    yield from _serve(tls)


@pytest.fixture
def tls_contexts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The verifying TLS contexts made from now on (httpx makes them with this function)."""
    made: list[Any] = []
    real: Callable[..., ssl.SSLContext] = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(args or kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    return made


def test_plain_http_makes_no_tls_context(http_url: str, tls_contexts: list[Any]) -> None:
    with httpx.Client(transport=TlsOnDemand()) as client:
        assert client.get(http_url).text == "ok"
        assert client.get(http_url).text == "ok"
    assert tls_contexts == []
    with httpx.Client() as client:  # what it spares: httpx's default transport makes one
        client.get(http_url)
    assert len(tls_contexts) == 1


def test_https_is_verified_with_a_context_made_on_first_use(
    self_signed_url: str, tls_contexts: list[Any]
) -> None:
    with httpx.Client(transport=TlsOnDemand()) as client:
        assert tls_contexts == []
        for _ in range(2):
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                client.get(self_signed_url)
    assert len(tls_contexts) == 1


def test_proxy_variables_leave_httpx_its_own_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    assert isinstance(for_client(), TlsOnDemand)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert for_client() is None
