"""The documents of the certificate store operations (:mod:`lbctl.api.certs`), as pydantic
models shared by the agent (its OpenAPI contract) and the clients. Times: ``*_s`` seconds;
dates are ISO 8601 in UTC. A document never carries a private key."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Certificate", "CertificateList", "CertificateOutcome"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Certificate(_Doc):
    """One store object: ``kind`` ``certificate`` (with its key: for binds) or ``ca`` (for
    ``client_ca`` and a server's ``ca``); the first certificate's subject, SANs, issuer and
    validity; ``chain``: certificates after it."""

    name: str
    kind: Literal["certificate", "ca"]
    subject: str
    sans: list[str]
    issuer: str
    not_before: datetime
    not_after: datetime
    expires_in_s: float = Field(description="seconds until not_after (negative: expired)")
    fingerprint_sha256: str = Field(description="SHA-256 of the DER certificate, hex with ':'")
    chain: int = Field(ge=0)


class CertificateList(_Doc):
    """``GET /api/v1/certificates``: every object, and the spec fields that use each."""

    certificates: list[Certificate]
    used_by: dict[str, list[str]] = Field(description="name → spec fields naming it")


class CertificateOutcome(_Doc):
    """A certificate write: the ``version`` now current, ``changed``, ``applied``
    (``runtime``: replaced in the running HAProxy without a reload; ``reload``; ``none``: not
    in use or HAProxy not running; ``removed``), ``used_by``, the object (``null`` once
    removed) and ``warnings`` (it expires soon)."""

    version: int
    changed: bool
    applied: Literal["runtime", "reload", "none", "removed"]
    used_by: list[str]
    certificate: Certificate | None
    warnings: list[str]
