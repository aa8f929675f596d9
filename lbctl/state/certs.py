"""The certificate store: ``<state dir>/certs/<name>.pem``, owned by the agent.

Folder 0700, files 0600, each written atomically (a temp file in the same folder, fsynced,
renamed in, the folder fsynced). The spec names objects, never paths
(:mod:`lbctl.spec.tls`); :func:`lbctl.render.tls.certificate_path` is where a name's file is,
and the host policy's file roots include the folder (:mod:`lbctl.spec.policy`). What a file
holds was checked by :func:`lbctl.state.pem.parse_bundle` before it was kept. Only the
controller writes (:mod:`lbctl.control.certs`), under its write lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from lbctl.errors import FieldError, InvalidRequest, NotFound, SpecError, StoreError
from lbctl.render.tls import certificate_path, certs_dir
from lbctl.spec import Spec
from lbctl.spec.tls_checks import certificate_refs
from lbctl.spec.types import NAME_RE
from lbctl.state.pem import CertInfo, read_stored

__all__ = ["TEMP_PREFIX", "CertStore", "check_name"]

log = logging.getLogger("lbctl.certs")
TEMP_PREFIX = ".tmp-"


def check_name(name: str) -> str:
    """``name`` when it is a store name (a spec ``Name``), else :class:`InvalidRequest`
    naming ``path.name``: no path, no ``..``, nothing but a name."""
    if not NAME_RE.match(name):
        raise InvalidRequest([FieldError("path.name", "a certificate is named, never a path: "
                                         "1-63 letters, digits, '_', '.', ':' or '-', starting "
                                         "with a letter or digit")])
    return name


class CertStore:
    """The store of the state dir ``state_root``."""

    def __init__(self, state_root: Path) -> None:
        self.root = Path(state_root)
        self.dir = certs_dir(self.root)

    def path(self, name: str) -> Path:
        """The file of ``name`` (checked by :func:`check_name`)."""
        return certificate_path(self.root, check_name(name))

    def ensure(self) -> None:
        """Create the folder (0700) and remove temp files left by a crash. Raises
        :class:`StoreError`."""
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.dir, 0o700)
            for leftover in self.dir.glob(TEMP_PREFIX + "*"):
                leftover.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot prepare the certificate store {self.dir}: {exc}") from exc

    def read(self, name: str) -> bytes | None:
        """The bytes kept for ``name``, ``None`` when there is none. Raises :class:`StoreError`."""
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read certificate {name!r}: {exc}") from exc

    def info(self, name: str) -> CertInfo:
        """What the store holds as ``name``. Raises :class:`NotFound`, :class:`StoreError`."""
        data = self.read(name)
        if data is None:
            raise NotFound(f"no certificate {name!r} in the store")
        try:
            return read_stored(name, data)
        except ValueError as exc:
            raise StoreError(f"certificate {name!r}: unreadable store file: {exc}") from exc

    def names(self) -> list[str]:
        """Every name in the store, sorted."""
        try:
            files = sorted(self.dir.glob("*.pem"))
        except OSError:
            return []
        return [f.name[:-4] for f in files if not f.name.startswith(TEMP_PREFIX)
                and NAME_RE.match(f.name[:-4])]

    def all(self) -> list[CertInfo]:
        """:meth:`info` of every object; an unreadable file is logged and left out."""
        out = []
        for name in self.names():
            try:
                out.append(self.info(name))
            except (NotFound, StoreError) as exc:
                log.error("certificate store: %s", exc)
        return out

    def write_temp(self, data: bytes, suffix: str = ".pem") -> Path:
        """``data`` in a new 0600 temp file of the folder (fsynced). Raises :class:`StoreError`."""
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot prepare the certificate store {self.dir}: {exc}") from exc
        path = self.dir / f"{TEMP_PREFIX}{os.urandom(8).hex()}{suffix}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise StoreError(f"cannot write in {self.dir}: {exc}") from exc
        return path

    def commit(self, temp: Path, name: str) -> None:
        """Rename ``temp`` over ``name``'s file and fsync the folder. Raises :class:`StoreError`."""
        try:
            os.chmod(temp, 0o600)
            os.replace(temp, self.path(name))
            self._sync()
        except OSError as exc:
            self.discard(temp)
            raise StoreError(f"cannot keep certificate {name!r}: {exc}") from exc

    def put_back(self, name: str, data: bytes | None) -> None:
        """Restore ``name`` to ``data`` (``None``: remove it); best effort, logged."""
        try:
            if data is None:
                self.path(name).unlink(missing_ok=True)
                self._sync()
            else:
                self.commit(self.write_temp(data), name)
        except (OSError, StoreError) as exc:
            log.error("certificate store: cannot put %r back: %s", name, exc)

    def remove(self, name: str) -> None:
        """Delete ``name``'s file. Raises :class:`NotFound`, :class:`StoreError`."""
        try:
            self.path(name).unlink()
            self._sync()
        except FileNotFoundError:
            raise NotFound(f"no certificate {name!r} in the store") from None
        except OSError as exc:
            raise StoreError(f"cannot remove certificate {name!r}: {exc}") from exc

    @staticmethod
    def discard(temp: Path) -> None:
        """Remove a temp file (never raises)."""
        with contextlib.suppress(OSError):
            temp.unlink()

    def _sync(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- the spec's references ----------------------------------------------------------
    def ref_errors(self, spec: Spec) -> list[FieldError]:
        """Every store object ``spec`` names that the store lacks, or holds as the wrong kind
        (a bind's certificate must have its key), by field path."""
        errors = []
        for loc, name, kind in certificate_refs(spec):
            try:
                info = self.info(name)
            except NotFound:
                errors.append(FieldError(loc, f"no certificate {name!r} in the store: PUT "
                                              f"/api/v1/certificates/{name} (lbctl cert put) first"))
                continue
            except StoreError as exc:
                errors.append(FieldError(loc, str(exc)))
                continue
            if kind == "certificate" and info.kind != "certificate":
                errors.append(FieldError(loc, f"{name!r} is a CA (no private key): a bind needs a "
                                              "certificate with its key"))
        return errors

    def check_refs(self, spec: Spec) -> None:
        """Raise :class:`SpecError` (422) naming each field of :meth:`ref_errors`."""
        errors = self.ref_errors(spec)
        if errors:
            raise SpecError(errors)

    @staticmethod
    def uses(spec: Spec, name: str) -> list[str]:
        """The field paths of ``spec`` that name ``name``."""
        return [loc for loc, ref, _kind in certificate_refs(spec) if ref == name]
