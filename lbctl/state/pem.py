"""PEM bundles read and checked with ``cryptography``: what the certificate store accepts.

A bundle is either a **certificate** (the leaf first, then each issuer in order, and the
leaf's private key, unencrypted: what ``bind ... ssl crt`` loads, configuration.txt §5.1
"crt") or a **CA** (one or more certificates and no key: a ``client_ca`` or a server's ``ca``,
``ca-file``). :func:`parse_bundle` refuses, each with an :class:`~lbctl.errors.InvalidRequest`
naming what is wrong (``body``, ``body.key``, ``body.certificates[1]``, ``body.chain[0]``):
no PEM at all, a block of another type, an encrypted or unreadable key, a key that does not
match the leaf, a chain out of order (each certificate must be issued — and signed — by the
next), a certificate that is expired or not valid yet. One expiring within
:data:`EXPIRY_WARNING_DAYS` days is accepted with a warning. The bytes kept are re-encoded
by ``cryptography`` (certificates, then the key as PKCS#8): no blank line, no text between
blocks, so they also travel as a runtime API payload (management.txt §9.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtensionOID

from lbctl.errors import FieldError, InvalidRequest

__all__ = ["EXPIRY_WARNING_DAYS", "MAX_BUNDLE_BYTES", "Bundle", "CertInfo", "describe",
           "parse_bundle"]

#: A certificate expiring within this many days is accepted with a warning.
EXPIRY_WARNING_DAYS = 30
#: The largest bundle accepted (bytes), and the most certificates in one.
MAX_BUNDLE_BYTES = 1 << 20
MAX_CERTIFICATES = 16
_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)
_KEY_TYPES = {"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"}


@dataclass(frozen=True)
class CertInfo:
    """What the store tells about an object, never its key: ``kind`` (``certificate`` |
    ``ca``), the leaf's (first certificate's) ``subject``, ``sans`` (DNS names and IPs),
    ``issuer``, ``not_before`` / ``not_after`` (UTC), ``fingerprint_sha256`` (hex, ``:``
    separated), ``chain`` (certificates after the first)."""

    name: str
    kind: Literal["certificate", "ca"]
    subject: str
    sans: list[str]
    issuer: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    chain: int

    def expires_in_s(self, now: datetime | None = None) -> float:
        """Seconds until ``not_after`` (negative once expired)."""
        return (self.not_after - (now or datetime.now(UTC))).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``expires_in_s``."""
        return {"name": self.name, "kind": self.kind, "subject": self.subject,
                "sans": list(self.sans), "issuer": self.issuer,
                "not_before": self.not_before.isoformat(), "not_after": self.not_after.isoformat(),
                "expires_in_s": round(self.expires_in_s(), 3),
                "fingerprint_sha256": self.fingerprint_sha256, "chain": self.chain}


@dataclass(frozen=True)
class Bundle:
    """A checked bundle: ``pem`` (the bytes to keep), its :class:`CertInfo`, ``warnings``."""

    pem: bytes
    info: CertInfo
    warnings: list[str] = field(default_factory=list)


def _refuse(loc: str, message: str) -> InvalidRequest:
    return InvalidRequest([FieldError(loc, message)])


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return []
    names = ext.value
    assert isinstance(names, x509.SubjectAlternativeName)
    return [*names.get_values_for_type(x509.DNSName),
            *(str(ip) for ip in names.get_values_for_type(x509.IPAddress))]


def describe(name: str, certs: list[x509.Certificate], kind: Literal["certificate", "ca"]
             ) -> CertInfo:
    """The :class:`CertInfo` of ``certs`` (the first is described) stored as ``name``."""
    leaf = certs[0]
    return CertInfo(name, kind, leaf.subject.rfc4514_string(), _sans(leaf),
                    leaf.issuer.rfc4514_string(), leaf.not_valid_before_utc,
                    leaf.not_valid_after_utc, _fingerprint(leaf), len(certs) - 1)


def _public(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo))


def _load_key(body: bytes) -> PrivateKeyTypes:
    if b"ENCRYPTED" in body:
        raise _refuse("body.key", "an encrypted private key: lbctl keeps keys unencrypted "
                                  "(0600, owned by the agent); send it decrypted")
    try:
        return serialization.load_pem_private_key(body, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _refuse("body.key", f"not a readable private key: {exc}") from None


def parse_bundle(name: str, data: bytes, *, now: datetime | None = None) -> Bundle:
    """Check ``data`` (a PEM bundle, module docstring) for store object ``name``; raises
    :class:`InvalidRequest` naming what is wrong."""
    now = now or datetime.now(UTC)
    if len(data) > MAX_BUNDLE_BYTES:
        raise _refuse("body", f"the bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    blocks = [(m[1].decode(), m[0]) for m in _BLOCK.finditer(data)]
    if not blocks:
        raise _refuse("body", "no PEM block: send the certificate, its chain and its key (or a "
                              "CA certificate) as PEM text")
    certs: list[x509.Certificate] = []
    keys: list[bytes] = []
    for kind, body in blocks:
        if kind == "CERTIFICATE":
            try:
                certs.append(x509.load_pem_x509_certificate(body))
            except ValueError as exc:
                raise _refuse(f"body.certificates[{len(certs)}]",
                              f"not a readable certificate: {exc}") from None
        elif kind in _KEY_TYPES or kind == "ENCRYPTED PRIVATE KEY":
            keys.append(body)
        else:
            raise _refuse("body", f"a PEM block of type {kind!r}: only CERTIFICATE and PRIVATE "
                                  "KEY blocks are kept")
    if not certs:
        raise _refuse("body.certificates", "no certificate in the bundle")
    if len(certs) > MAX_CERTIFICATES:
        raise _refuse("body.certificates", f"more than {MAX_CERTIFICATES} certificates")
    if len(keys) > 1:
        raise _refuse("body.key", "more than one private key")
    warnings: list[str] = []
    for i, cert in enumerate(certs):
        subject = cert.subject.rfc4514_string()
        if cert.not_valid_after_utc <= now:
            raise _refuse(f"body.certificates[{i}]", f"{subject!r} expired on "
                                                     f"{cert.not_valid_after_utc.isoformat()}")
        if cert.not_valid_before_utc > now:
            raise _refuse(f"body.certificates[{i}]", f"{subject!r} is not valid before "
                                                     f"{cert.not_valid_before_utc.isoformat()}")
        days = (cert.not_valid_after_utc - now).total_seconds() / 86400
        if days < EXPIRY_WARNING_DAYS:
            warnings.append(f"certificates[{i}] {subject!r} expires in {days:.1f} days "
                            f"({cert.not_valid_after_utc.isoformat()})")
    key = _load_key(keys[0]) if keys else None
    if key is not None:
        mine = _public(key.public_key())
        if _public(certs[0].public_key()) != mine:
            other = next((i for i, c in enumerate(certs) if _public(c.public_key()) == mine), None)
            if other is not None:
                raise _refuse("body.chain", f"wrong order: the key belongs to certificate "
                                            f"{other}; put the leaf first, then each issuer")
            raise _refuse("body.key", "the private key does not match the certificate "
                                      f"{certs[0].subject.rfc4514_string()!r}")
        for i in range(len(certs) - 1):
            child, parent = certs[i], certs[i + 1]
            try:
                child.verify_directly_issued_by(parent)
            except (ValueError, TypeError, InvalidSignature):
                raise _refuse(f"body.chain[{i}]", (
                    f"certificate {i + 1} ({parent.subject.rfc4514_string()!r}) did not issue "
                    f"certificate {i} (issuer {child.issuer.rfc4514_string()!r}): the chain "
                    "must go leaf first, then each issuer in order")) from None
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    if key is not None:
        pem += key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    what: Literal["certificate", "ca"] = "certificate" if key is not None else "ca"
    return Bundle(pem, describe(name, certs, what), warnings)


def read_stored(name: str, data: bytes) -> CertInfo:
    """The :class:`CertInfo` of bytes the store kept (already checked: no expiry check)."""
    certs = [x509.load_pem_x509_certificate(m[0]) for m in _BLOCK.finditer(data)
             if m[1] == b"CERTIFICATE"]
    if not certs:
        raise ValueError(f"no certificate in the store file of {name!r}")
    has_key = any(m[1].decode() in _KEY_TYPES for m in _BLOCK.finditer(data))
    return describe(name, certs, "certificate" if has_key else "ca")
