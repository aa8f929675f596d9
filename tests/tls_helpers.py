"""Certificates made by the tests with ``cryptography``: a CA, leaves it issues, PEM bundles,
and a small HTTPS backend (``ssl`` of the standard library) for server-side TLS.

Import-only: plain functions and classes; no fixture lives here.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Issued:
    """A certificate and its key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @property
    def fingerprint(self) -> bytes:
        return self.cert.fingerprint(hashes.SHA256())

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        """``(cert file, key file)`` in ``folder``."""
        cert, key = folder / f"{name}.crt", folder / f"{name}.key"
        cert.write_bytes(self.cert_pem)
        key.write_bytes(self.key_pem)
        return cert, key


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "lbctl test CA", *, issuer: Issued | None = None) -> Issued:
    """A CA certificate (self-signed, or an intermediate signed by ``issuer``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name(cn))
               .issuer_name(issuer.cert.subject if issuer else _name(cn))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - dt.timedelta(days=1))
               .not_valid_after(NOW + dt.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                            crl_sign=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True))
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def issue(ca: Issued, cn: str = "localhost", *, days: float = 90, expired: bool = False,
          client: bool = False) -> Issued:
    """A leaf for ``cn`` (SANs ``localhost`` and ``127.0.0.1``) valid ``days`` from now
    (``expired``: it ended yesterday)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = NOW - dt.timedelta(days=30 if expired else 1)
    end = NOW - dt.timedelta(days=1) if expired else NOW + dt.timedelta(days=days)
    usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH if client else \
        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.DNSName(cn),
                 x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return Issued(cert, key)


def bundle(leaf: Issued, *chain: Issued, key: Issued | None = None) -> bytes:
    """PEM: ``leaf``, then ``chain``, then the key of ``key`` (default: the leaf's)."""
    return leaf.cert_pem + b"".join(c.cert_pem for c in chain) + (key or leaf).key_pem


def peer_fingerprint(host: str, port: int, ca_file: Path) -> bytes:
    """SHA-256 of the certificate a fresh TLS handshake with ``host:port`` presents."""
    import hashlib
    import socket

    ctx = ssl.create_default_context(cafile=str(ca_file))
    with socket.create_connection((host, port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).digest()


class HttpsBackend:
    """An HTTPS server on 127.0.0.1 answering 200 ``ok`` to every GET / HEAD, with ``leaf``."""

    def __init__(self, leaf: Issued, folder: Path) -> None:
        cert, key = leaf.write(folder, "backend")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, body: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                if body:
                    self.wfile.write(b"ok")

            def do_GET(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HttpsBackend:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def https_load(url: str, ca_file: Path, clients: int = 4, *,
               limit_s: float = 30.0) -> Iterator[dict[str, int]]:
    """``clients`` keep-alive HTTPS clients trusting ``ca_file``, each sending ``GET url``
    one after the other until the ``with`` block ends (or ``limit_s`` passes: bounded); the
    dict yielded counts ``ok`` (200) and ``failed`` answers, final once the block has ended."""
    import httpx

    stop, lock = threading.Event(), threading.Lock()
    counts = {"ok": 0, "failed": 0}

    def load() -> None:
        context = ssl.create_default_context(cafile=str(ca_file))
        with httpx.Client(verify=context, timeout=5) as client:
            deadline = time.monotonic() + limit_s
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    ok = client.get(url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    counts["ok" if ok else "failed"] += 1

    threads = [threading.Thread(target=load) for _ in range(clients)]
    for t in threads:
        t.start()
    try:
        yield counts
    finally:
        stop.set()
        for t in threads:
            t.join()
