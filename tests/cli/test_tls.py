"""TLS to a remote server: the real server over https with a certificate made here, self-signed.

Its certificate is trusted by nothing on this machine, so a verifying client must refuse it until
told about it (``--ca-cert``, ``CODALITY_CA_CERT`` or ``SSL_CERT_FILE``).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from codality_cli.api import ApiClient, ServerUnavailable
from codality_cli.api.transport import run_blocking, tls_context
from codality_server.settings import ServerSettings
from tests.cli.conftest import Cli
from tests.conftest import RunningServer, start_server


@dataclass
class TlsServer:
    server: RunningServer
    cert: Path
    token: str


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost that signs itself (its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "codality test server")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(data_dir: Path, tmp_path: Path) -> Iterator[TlsServer]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    running, thread = start_server(ServerSettings(data_dir=data_dir, port=0), context)
    try:
        code = (data_dir / "setup-code").read_text().strip()
        body = {"code": code, "email": "admin@example.com", "name": "Admin"}
        trusting = ssl.create_default_context(cafile=str(cert))
        answer = httpx.post(f"{running.url}/api/setup/verify", json=body, verify=trusting)
        assert answer.status_code == 201, answer.text
        yield TlsServer(running, cert, str(answer.json()["token"]))
    finally:
        running._stop.set()
        thread.join(15)


def test_an_untrusted_certificate_is_refused_and_its_ca_accepted(tls_server: TlsServer) -> None:
    cli = Cli(tls_server.server, tls_server.token)
    assert cli.server.url.startswith("https://127.0.0.1:")

    refused = cli("user", "list")
    assert refused.exit_code == 5, refused.stdout
    assert "certificate is not trusted" in refused.stderr and "--ca-cert" in refused.stderr
    assert refused.stderr.count("\n") == 1

    with_option = cli("--ca-cert", str(tls_server.cert), "user", "list", "--json")
    assert with_option.exit_code == 0, with_option.stderr
    assert [u["email"] for u in with_option.json()] == ["admin@example.com"]
    from_env = cli("user", "list", env={"CODALITY_CA_CERT": str(tls_server.cert)})
    assert from_env.exit_code == 0, from_env.stderr
    from_openssl_env = cli("user", "list", env={"SSL_CERT_FILE": str(tls_server.cert)})
    assert from_openssl_env.exit_code == 0, from_openssl_env.stderr

    missing = cli("--ca-cert", "/no/such/ca.pem", "user", "list")
    assert missing.exit_code == 2 and "--ca-cert" in missing.stderr


async def test_the_streaming_client_verifies_too(tls_server: TlsServer) -> None:
    url, token = tls_server.server.url, tls_server.token
    async with ApiClient(url, token) as untrusting:
        with pytest.raises(ServerUnavailable, match="not trusted"):
            await untrusting.users.list()
    async with ApiClient(url, token, ca_cert=tls_server.cert) as trusting:
        assert [u["email"] for u in await trusting.users.list()] == ["admin@example.com"]


def test_the_certificate_names_the_host(tls_server: TlsServer) -> None:
    port = tls_server.server.url.rsplit(":", 1)[1]
    by_name = ApiClient(
        f"https://localhost:{port}", tls_server.token, ca_cert=tls_server.cert, blocking=True
    )
    assert run_blocking(by_name.users.list())


def test_only_plain_http_goes_without_an_ssl_context() -> None:
    assert tls_context("http://127.0.0.1:7420") is None
    verifying = tls_context("https://127.0.0.1:7420")
    assert verifying is not None and verifying.verify_mode == ssl.CERT_REQUIRED
    assert verifying.check_hostname
