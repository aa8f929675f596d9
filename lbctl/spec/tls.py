"""TLS in the spec: a bind's ``tls``, a frontend's HSTS, a server's ``tls``, and their checks.

A bind terminates TLS with certificates of the agent's certificate store, named, never by path
(:mod:`lbctl.state.certs`)::

    bind:
      - "*:80"
      - {address: "*:443", tls: {certificates: [site], alpn: [h2, http/1.1],
                                 min_version: TLSv1.2, client_ca: clients, verify: required}}

A server speaks TLS to its backend with ``tls: {verify: required, ca: internal-ca, sni:
app.internal, alpn: [http/1.1]}``. Everything is allowlisted: ALPN protocol names, TLS
versions, cipher names (Mozilla's "intermediate" list) and TLS 1.3 cipher suites; nothing is
ever escaped (DESIGN.md "Safety rules"). The keywords are HAProxy's own
(configuration.txt §5.1 "Bind options": ``ssl``, ``crt``, ``alpn``, ``ssl-min-ver``,
``ciphers``, ``ciphersuites``, ``ca-file``, ``verify``; §5.2 "Server and default-server
options": ``ssl``, ``verify``, ``ca-file``, ``sni``, ``alpn``). The cross-field part is
:func:`lbctl.spec.tls_checks.tls_errors` (a client CA wants ``verify``; ``verify required``
toward a server wants a ``ca``; HSTS ``preload`` wants ``include_subdomains`` and a year);
whether the named objects exist in the store is checked at apply time (:mod:`lbctl.control.certs`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lbctl.spec.types import Host, Name, no_items

__all__ = ["ALPN", "CIPHERS", "CIPHERSUITES", "ONE_YEAR_S", "TLS_VERSIONS", "BindTLS", "Hsts",
           "ServerTLS"]

#: ALPN protocol names lbctl renders (RFC 7301 registry; HAProxy speaks these three over HTTP).
ALPN = Literal["h2", "http/1.1", "http/1.0"]
#: ``ssl-min-ver`` values (configuration.txt 1.8 §5.1).
TLS_VERSIONS = Literal["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
#: TLS ≤ 1.2 ciphers (OpenSSL names) lbctl accepts: Mozilla's "intermediate" configuration.
CIPHERS = Literal[
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
]
#: TLS 1.3 cipher suites (RFC 8446 §B.4) for ``ciphersuites`` (HAProxy 1.9+, OpenSSL 1.1.1+).
CIPHERSUITES = Literal["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                       "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256"]

#: One year in seconds: the HSTS ``max-age`` a preload list asks for (hstspreload.org).
ONE_YEAR_S = 31_536_000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class BindTLS(_Model):
    """TLS termination on a bind (``ssl crt <store file> ...``, configuration.txt §5.1).

    ``certificates``: names in the certificate store, each a certificate with its chain and
    key (the first is the default, the others are picked by SNI); ``alpn``: protocols to offer,
    in order; ``min_version``: the oldest TLS version accepted; ``ciphers`` / ``ciphersuites``:
    allowlisted names (TLS ≤ 1.2 / TLS 1.3; empty: HAProxy's defaults); ``client_ca``: a CA
    of the store that client certificates must chain to (mTLS), with ``verify`` ``optional``
    (a client without a certificate gets in; ``ssl_c_used`` tells) or ``required`` (the
    handshake fails without one)."""

    certificates: list[Name] = Field(min_length=1, max_length=64)
    alpn: list[ALPN] = no_items(max_length=3)
    min_version: TLS_VERSIONS | None = None
    ciphers: list[CIPHERS] = no_items(max_length=16)
    ciphersuites: list[CIPHERSUITES] = no_items(max_length=8)
    client_ca: Name | None = None
    verify: Literal["none", "optional", "required"] = "none"


class Hsts(_Model):
    """``Strict-Transport-Security`` on every response sent over TLS (RFC 6797 §6.1):
    ``max_age`` in seconds, ``includeSubDomains``, ``preload``. Written as ``http-response
    set-header ... if { ssl_fc }`` (configuration.txt §4.2, §7.3.4)."""

    max_age: int = Field(default=ONE_YEAR_S, ge=0, le=1_000_000_000, description="seconds")
    include_subdomains: bool = False
    preload: bool = False

    def value(self) -> str:
        """The header value: ``max-age=31536000; includeSubDomains; preload``."""
        parts = [f"max-age={self.max_age}"]
        if self.include_subdomains:
            parts.append("includeSubDomains")
        if self.preload:
            parts.append("preload")
        return "; ".join(parts)


class ServerTLS(_Model):
    """TLS toward a server (configuration.txt §5.2): ``verify`` ``required`` (the server's
    certificate must chain to ``ca``, a CA of the store) or ``none``; ``sni``: the host name
    sent in the handshake (and checked against the certificate, HAProxy 2.2+ ``verifyhost``
    default), health checks included (``check-sni``); ``alpn``: protocols to offer (1.9+)."""

    verify: Literal["required", "none"] = "required"
    ca: Name | None = None
    sni: Host | None = None
    alpn: list[ALPN] = no_items(max_length=3)
