"""The state dir: live ``haproxy.cfg``, the current spec and its version, last-known-good, tokens.

Layout of ``LBCTL_STATE_DIR`` (default ``./.lbctl``, mode 0700)::

    haproxy.cfg        the live config HAProxy runs (written only by the controller)
    haproxy.cfg.lkg    the last config HAProxy accepted at start/reload (last-known-good)
    spec.json          {"version": n, "updated_at": epoch seconds, "spec": {...}}
    history.db         every version, failed attempt and reload (SQLite, WAL: lbctl/history.py)
    token              the bootstrap ``admin`` token (mode 0600), when not given by LBCTL_TOKEN
    tokens.json        the other API tokens, hashed, with their roles (mode 0600: lbctl/tokens.py)
    haproxy.sock       HAProxy's stats socket (runtime API)
    master.sock        HAProxy's master CLI socket
    haproxy.pid        the master's pidfile

Every write is atomic: a temp file ``.tmp-*`` in the same directory, fsync, ``os.replace``,
fsync of the directory. A crash leaves the old file or the new one, never a mix; leftover temp
files are removed by :meth:`StateDir.ensure`. ``OSError`` becomes :class:`StoreError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbctl.errors import SpecError, StoreError
from lbctl.spec import Spec, validate_spec
from lbctl.state.jsontext import SpecTexts, spec_file

ENV_STATE_DIR = "LBCTL_STATE_DIR"
TEMP_PREFIX = ".tmp-"


def resolve_state_dir(explicit: str | Path | None = None) -> Path:
    """The state dir: ``explicit`` → ``$LBCTL_STATE_DIR`` → ``./.lbctl`` (made absolute)."""
    chosen = explicit or os.environ.get(ENV_STATE_DIR) or ".lbctl"
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class StoredSpec:
    """The current spec with its integer ``version`` and ``updated_at`` (epoch seconds), and
    ``document``: the data ``spec`` was read from or written as (``spec.json``'s ``spec``
    member; ``None`` when not at hand; not part of equality). Nobody changes it: it is shared,
    not copied."""

    version: int
    spec: Spec
    updated_at: float
    document: dict[str, Any] | None = field(default=None, compare=False, repr=False)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StateDir:
    """One lbctl state directory (see the module docstring for its files)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    @property
    def config_path(self) -> Path:
        """The live ``haproxy.cfg``."""
        return self.root / "haproxy.cfg"

    @property
    def lkg_path(self) -> Path:
        """The last-known-good config (what HAProxy last accepted)."""
        return self.root / "haproxy.cfg.lkg"

    @property
    def spec_path(self) -> Path:
        """``spec.json``: the current spec and its version."""
        return self.root / "spec.json"

    @property
    def history_path(self) -> Path:
        """``history.db``: the config history (:class:`lbctl.state.history.History`)."""
        return self.root / "history.db"

    @property
    def token_path(self) -> Path:
        """The generated bearer token (mode 0600)."""
        return self.root / "token"

    @property
    def tokens_path(self) -> Path:
        """``tokens.json``: named API tokens with roles, stored hashed (:mod:`lbctl.state.tokens`)."""
        return self.root / "tokens.json"

    @property
    def run_dir(self) -> Path:
        """Where HAProxy's sockets and pidfile live (the state dir itself)."""
        return self.root

    def ensure(self) -> None:
        """Create the directory (mode 0700) and remove temp files a crash left behind.

        Raises :class:`StoreError`.
        """
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            for leftover in self.root.glob(TEMP_PREFIX + "*"):
                leftover.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot prepare state dir {self.root}: {exc}") from exc

    # -- atomic files -------------------------------------------------------------------
    def write_temp(self, data: bytes, *, suffix: str = "", sync: bool = True) -> Path:
        """Write ``data`` to a new temp file in the state dir (fsynced unless ``sync`` is false)
        and return its path.

        The caller validates it and then :meth:`commit`s it or deletes it. ``sync`` false
        leaves the fsync to the caller, who calls :meth:`sync_temp` before the commit (the
        live file's fsync runs while ``haproxy -c`` reads the file: :mod:`lbctl.state.livefile`)
        or discards a file it never commits. Raises :class:`StoreError` (the temp file is
        removed) when the write fails, e.g. disk full.
        """
        path: Path | None = None
        try:
            fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=self.root)
            path = Path(name)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
            return path
        except OSError as exc:
            if path is not None:
                path.unlink(missing_ok=True)
            raise StoreError(f"cannot write in {self.root}: {exc}") from exc

    def sync_temp(self, temp: Path) -> None:
        """fsync a temp file written by :meth:`write_temp` with ``sync`` false (its data reach
        the disk before it is committed). Raises :class:`StoreError` (the temp file is
        removed), e.g. when the disk reports a write error."""
        try:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"cannot write in {self.root}: {exc}") from exc

    def commit(self, temp: Path, dest: Path, *, mode: int = 0o644) -> None:
        """Atomically move ``temp`` over ``dest`` (rename + directory fsync).

        Raises :class:`StoreError`; ``dest`` is then unchanged and ``temp`` removed.
        """
        try:
            os.chmod(temp, mode)
            os.replace(temp, dest)
            _fsync_dir(self.root)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"cannot replace {dest}: {exc}") from exc

    @contextlib.contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        """An exclusive ``flock`` on ``<path>.lock`` around a read-modify-write of ``path``
        (``tokens.json``, ``sessions.json``). Raises :class:`StoreError`.

        Creates the state dir (0700) if needed, but not through :meth:`ensure`: that removes
        temp files, and a running agent may be writing one.
        """
        lock_path = path.with_name(path.name + ".lock")
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot lock {lock_path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def atomic_write(self, dest: Path, data: bytes, *, mode: int = 0o644) -> None:
        """Write ``data`` to ``dest`` atomically. Raises :class:`StoreError`."""
        self.commit(self.write_temp(data), dest, mode=mode)

    def discard(self, temp: Path) -> None:
        """Remove a temp file that will not be committed."""
        with contextlib.suppress(OSError):
            temp.unlink()

    # -- spec and config ----------------------------------------------------------------
    def read_current(self) -> StoredSpec | None:
        """The current spec and version, or ``None`` on a fresh state dir.

        Raises :class:`StoreError` when ``spec.json`` is unreadable or no longer valid.
        """
        try:
            raw = self.spec_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.spec_path}: {exc}") from exc
        try:
            doc = json.loads(raw)
            return StoredSpec(int(doc["version"]), validate_spec(doc["spec"]),
                              float(doc.get("updated_at", 0.0)), doc["spec"])
        except (ValueError, KeyError, TypeError, SpecError) as exc:
            raise StoreError(f"{self.spec_path} is corrupt: {exc}") from exc

    def write_current(self, version: int, spec: Spec,
                      document: dict[str, Any] | SpecTexts | None = None) -> StoredSpec:
        """Record ``spec`` as the current spec at ``version`` (atomic); ``document`` is
        ``spec.to_data()`` (or its :class:`~lbctl.state.jsontext.SpecTexts`) when the caller
        has it already (an apply serialises the spec once).
        The text is ``json.dumps({"version", "updated_at", "spec"}, indent=2)`` plus a newline
        (:func:`lbctl.state.jsontext.spec_file`). Raises :class:`StoreError`."""
        if document is None:
            document = spec.to_data()
        data = document.document if isinstance(document, SpecTexts) else document
        stored = StoredSpec(version, spec, time.time(), data)
        self.atomic_write(self.spec_path, spec_file(version, stored.updated_at, document).encode(),
                          mode=0o600)
        return stored

    def read_config(self) -> bytes | None:
        """The live config's bytes, or ``None`` when there is none yet."""
        return self._read_optional(self.config_path)

    def read_lkg(self) -> bytes | None:
        """The last-known-good config's bytes, or ``None``."""
        return self._read_optional(self.lkg_path)

    def _read_optional(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc

    # -- token --------------------------------------------------------------------------
    def read_or_create_token(self) -> tuple[str, bool]:
        """The agent's bearer token and whether it was created now (mode 0600, 32 random bytes).

        Raises :class:`StoreError`.
        """
        try:
            token = self.token_path.read_text(encoding="utf-8").strip()
            if token:
                return token, False
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot read {self.token_path}: {exc}") from exc
        self.ensure()
        token = secrets.token_urlsafe(32)
        self.atomic_write(self.token_path, (token + "\n").encode(), mode=0o600)
        return token, True
