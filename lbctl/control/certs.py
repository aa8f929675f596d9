"""Certificate writes: put and remove store objects, hot-update the ones in use.

:func:`put_certificate` runs under the write lock: check ``If-Match`` → check the bundle
(:func:`lbctl.state.pem.parse_bundle`) → write it to a 0600 temp file of the store →
``haproxy -c`` on a small config that loads it (a bind's ``ssl crt`` for a certificate, a
server's ``ca-file`` for a CA) → when the current spec uses it and HAProxy runs: the runtime
API on 2.1+ (``set ssl cert`` + ``commit ssl cert``: same master, same workers, new
handshakes see the new certificate) or, before 2.1 and for a CA, a reload after the rename →
rename it in → record a new version (the spec unchanged, kind ``certificate`` in the history,
one audit line). On any failure nothing is kept: the temp file is removed, a runtime change is
aborted, a renamed file is put back. :func:`remove_certificate` refuses an object the current
spec uses (422 naming the fields). Both answer :class:`CertResult`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbctl.control.configuration import reload_or_restore
from lbctl.control.core import Core, log
from lbctl.errors import FieldError, InvalidRequest, LbctlError, StoreError
from lbctl.haproxy.validate import check_file
from lbctl.render.tls import hot_update
from lbctl.state.certs import CertStore, check_name
from lbctl.state.journal import LOCAL, Write
from lbctl.state.pem import Bundle, CertInfo, parse_bundle

__all__ = ["CertResult", "check_bundle", "put_certificate", "remove_certificate", "store_of"]


@dataclass(frozen=True)
class CertResult:
    """Outcome of a certificate write: the ``version`` now current, ``changed`` (false: the
    store already held these bytes), ``applied`` (``runtime``: hot update; ``reload``;
    ``none``: not in use or HAProxy down; ``removed``), ``used_by`` (spec fields naming
    it), the object's ``info`` (``None`` once removed) and ``warnings`` (near expiry)."""

    version: int
    changed: bool
    applied: str
    used_by: list[str]
    info: CertInfo | None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"version": self.version, "changed": self.changed, "applied": self.applied,
                "used_by": list(self.used_by),
                "certificate": self.info.as_dict() if self.info is not None else None,
                "warnings": list(self.warnings)}


def store_of(core: Core) -> CertStore:
    """The certificate store of ``core``'s state dir."""
    return CertStore(core.state.root)


def _check_config(pem: Path, kind: str) -> str:
    """A config that loads ``pem`` the way the spec would (nothing listens: ``-c`` only). Its
    frontend and backend have different names: 3.3 refuses a backend named as a frontend."""
    head = ("global\n    stats timeout 30s\n\ndefaults\n    mode http\n    timeout connect 1s\n"
            "    timeout client 1s\n    timeout server 1s\n\n")
    if kind == "certificate":
        return head + (f"frontend lbctl_cert_check\n    bind 127.0.0.1:9 ssl crt {pem}\n"
                       "    default_backend lbctl_cert_check_be\n\nbackend lbctl_cert_check_be\n"
                       "    server s 127.0.0.1:9\n")
    return head + ("frontend lbctl_cert_check\n    bind 127.0.0.1:9\n"
                   "    default_backend lbctl_cert_check_be\n\nbackend lbctl_cert_check_be\n"
                   f"    server s 127.0.0.1:9 ssl verify required ca-file {pem}\n")


def check_bundle(core: Core, pem: Path, kind: str) -> None:
    """``haproxy -c`` on :func:`_check_config` of ``pem``. Raises :class:`ConfigRejected`
    (HAProxy refused the bundle), :class:`BinaryNotFound`, :class:`StoreError`."""
    store = store_of(core)
    cfg = store.write_temp(_check_config(pem, kind).encode(), suffix=".cfg")
    try:
        check_file(core.require_binary(), cfg)
    finally:
        store.discard(cfg)


def put_certificate(core: Core, name: str, data: bytes, *, if_match: int | None,
                    who: str = LOCAL, author: str = "", message: str = "") -> CertResult:
    """Keep ``data`` (a PEM bundle) as store object ``name`` (module docstring), as version
    ``if_match + 1``. Raises :class:`PreconditionRequired`, :class:`VersionConflict`,
    :class:`InvalidRequest` (a bad name or bundle, named; a CA where a bind needs a
    certificate), :class:`ConfigRejected` (HAProxy refused the bundle), :class:`RuntimeAPIError`
    / :class:`ReloadFailed` (HAProxy refused it live; nothing kept), :class:`BinaryNotFound`,
    :class:`StoreError`."""
    write = Write("certificate", who=who, author=author, base_version=if_match,
                  message=message or f"put certificate {name}", target=f"certificate {name}")
    with core.journal.track(write, lambda: core.version):
        core.require_single_node("a certificate store change")
        core.require_if_match(write)
        check_name(name)
        bundle = parse_bundle(name, data)
        with core.lock:
            core.lock_for(write)
            return _put(core, write, name, bundle)


def _put(core: Core, write: Write, name: str, bundle: Bundle) -> CertResult:
    store = store_of(core)
    uses = store.uses(core.spec, name)
    binds = [u for u in uses if ".certificates[" in u]
    if binds and bundle.info.kind != "certificate":
        raise InvalidRequest([FieldError("body.key", f"{name!r} is used by {', '.join(binds)}: "
                                                     "a bind needs a certificate with its key")])
    old = store.read(name)
    if old == bundle.pem:
        write.result = "unchanged"
        return CertResult(core.version, False, "none", uses, bundle.info, bundle.warnings)
    process = core.require_process()
    write.attempted, write.spec = True, core.spec
    temp = store.write_temp(bundle.pem)
    try:
        check_bundle(core, temp, bundle.info.kind)
    except LbctlError:
        store.discard(temp)
        raise
    running = bool(uses) and process.is_running()
    applied = "none"
    live = core.state.read_config()
    if running and bundle.info.kind == "certificate" and core.caps is not None \
            and hot_update(core.caps):
        try:
            core.runtime().replace_ssl_cert(store.path(name), bundle.pem.decode())
        except LbctlError:
            store.discard(temp)
            raise
        applied = "runtime"
    store.commit(temp, name)
    try:
        if running and applied == "none":
            reload_or_restore(core, live, write)
            applied = "reload"
        new = core.version + 1
        core.journal.commit_version(write, new)
        core.state.write_current(new, core.spec)
    except LbctlError as exc:
        core.journal.undo(write, f"{type(exc).__name__}: {exc}")
        store.put_back(name, old)
        if applied == "runtime" and old is not None:
            with contextlib.suppress(LbctlError):
                core.runtime().replace_ssl_cert(store.path(name), old.decode())
        raise
    write.config = live.decode("utf-8", "replace") if live is not None else None
    core.version = new
    write.current, write.result = new, "changed"
    log.info("certificate %s kept (version %d, %s) who=%r author=%r", name, new, applied,
             write.who, write.author)
    return CertResult(new, True, applied, uses, bundle.info, bundle.warnings)


def remove_certificate(core: Core, name: str, *, if_match: int | None, who: str = LOCAL,
                       author: str = "", message: str = "") -> CertResult:
    """Delete store object ``name`` as version ``if_match + 1``. Raises
    :class:`PreconditionRequired`, :class:`VersionConflict`, :class:`NotFound`,
    :class:`InvalidRequest` (the current spec uses it: each field named), :class:`StoreError`."""
    write = Write("certificate", who=who, author=author, base_version=if_match,
                  message=message or f"remove certificate {name}", target=f"certificate {name}")
    with core.journal.track(write, lambda: core.version):
        core.require_single_node("a certificate store change")
        core.require_if_match(write)
        check_name(name)
        with core.lock:
            core.lock_for(write)
            store = store_of(core)
            store.info(name)  # NotFound
            uses = store.uses(core.spec, name)
            if uses:
                raise InvalidRequest([FieldError("path.name", (
                    f"certificate {name!r} is in use by {', '.join(uses)}: change the spec "
                    "first"))])
            old = store.read(name)
            write.attempted, write.spec = True, core.spec
            store.remove(name)
            new = core.version + 1
            try:
                core.journal.commit_version(write, new)
                core.state.write_current(new, core.spec)
            except StoreError as exc:
                core.journal.undo(write, f"StoreError: {exc}")
                store.put_back(name, old)
                raise
            core.version = new
            write.current, write.result = new, "changed"
            log.info("certificate %s removed (version %d) who=%r", name, new, write.who)
            return CertResult(new, True, "removed", [], None)
