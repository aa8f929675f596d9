"""TLS words of the rendered config: bind and server options, the store's file paths, the gates.

The certificate store is ``<state dir>/certs`` (:func:`certs_dir`; the state dir is the render
context's ``run_dir``), one ``<name>.pem`` per object (:mod:`lbctl.state.certs`); the spec names
objects, the config gets their absolute paths. Words (configuration.txt §5.1, §5.2):

* a bind: ``ssl crt <file> [crt <file> ...] [alpn h2,http/1.1] [ssl-min-ver TLSv1.2]
  [ciphers A:B] [ciphersuites X:Y] [ca-file <file> verify optional|required]``;
* a server: ``ssl verify required ca-file <file> [sni str(<host>) check-sni <host>]
  [alpn ...]`` or ``ssl verify none ...``.

The version-gated TLS forms are in the one table, :data:`lbctl.features.GATES`
(``min_version``, ``ciphersuites``, ``server_alpn``, ``sni``); :func:`check_tls_gates` refuses
them with a 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lbctl.errors import UnsupportedOnTarget
from lbctl.features import GATES, Capabilities
from lbctl.spec import Bind, Server, Spec

__all__ = ["CERTS_DIR", "bind_tls", "certificate_path", "certs_dir",
           "check_tls_gates", "hot_update", "server_tls"]

#: The store's folder inside the state dir.
CERTS_DIR = "certs"


def certs_dir(state_root: Path) -> Path:
    """``<state dir>/certs``: the certificate store (and a host-policy file root)."""
    return Path(state_root) / CERTS_DIR


def certificate_path(state_root: Path, name: str) -> Path:
    """The store file of object ``name`` (a spec :data:`~lbctl.spec.types.Name`)."""
    return certs_dir(state_root) / f"{name}.pem"


def hot_update(caps: Capabilities) -> bool:
    """True when the target replaces a certificate in use without a reload
    (:attr:`lbctl.features.Capabilities.hot_ssl_cert`, 2.1+)."""
    return caps.hot_ssl_cert


def check_tls_gates(spec: Spec, caps: Capabilities) -> None:
    """Refuse the first TLS field of ``spec`` the target lacks (:data:`lbctl.features.GATES`): raises
    :class:`UnsupportedOnTarget` naming the field."""
    for loc, used, name in _gated_uses(spec):
        gate = GATES[name]
        if used and not gate.allowed(caps):
            raise UnsupportedOnTarget.field(loc, str(caps.version), gate.needs, gate.instead)


def _gated_uses(spec: Spec) -> Iterator[tuple[str, bool, str]]:
    """Every version-gated TLS field of ``spec``: ``(location, set?, gate name)``."""
    for fi, fe in enumerate(spec.frontends):
        for bi, bind in enumerate(fe.bind):
            if bind.tls is not None:
                where = f"frontends[{fi}].bind[{bi}].tls"
                yield f"{where}.min_version", bool(bind.tls.min_version), "min_version"
                yield f"{where}.ciphersuites", bool(bind.tls.ciphersuites), "ciphersuites"
    for bi, be in enumerate(spec.backends):
        for si, server in enumerate(be.servers):
            if server.tls is not None:
                where = f"backends[{bi}].servers[{si}].tls"
                yield f"{where}.sni", bool(server.tls.sni), "sni"
                yield f"{where}.alpn", bool(server.tls.alpn), "server_alpn"


def bind_tls(bind: Bind, state_root: Path) -> str:
    """The TLS words after ``bind <address>`` (with a leading space), ``""`` without TLS."""
    tls = bind.tls
    if tls is None:
        return ""
    words = ["ssl"]
    for name in tls.certificates:
        words += ["crt", str(certificate_path(state_root, name))]
    if tls.alpn:
        words += ["alpn", ",".join(tls.alpn)]
    if tls.min_version:
        words += ["ssl-min-ver", tls.min_version]
    if tls.ciphers:
        words += ["ciphers", ":".join(tls.ciphers)]
    if tls.ciphersuites:
        words += ["ciphersuites", ":".join(tls.ciphersuites)]
    if tls.client_ca is not None:
        words += ["ca-file", str(certificate_path(state_root, tls.client_ca)), "verify",
                  tls.verify]
    return " " + " ".join(words)


def server_tls(server: Server, state_root: Path | None) -> str:
    """The TLS words of a ``server`` line (with a leading space), ``""`` without TLS. Without
    a state root (a server line read alone) the CA is written relative to the state dir,
    where HAProxy runs (``certs/<name>.pem``)."""
    tls = server.tls
    if tls is None:
        return ""
    words = ["ssl", "verify", tls.verify]
    if tls.ca is not None:
        path = (certificate_path(state_root, tls.ca) if state_root is not None
                else Path(CERTS_DIR) / f"{tls.ca}.pem")
        words += ["ca-file", str(path)]
    if tls.sni:
        words += ["sni", f"str({tls.sni})", "check-sni", tls.sni]
    if tls.alpn:
        words += ["alpn", ",".join(tls.alpn)]
    return " " + " ".join(words)
