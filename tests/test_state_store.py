"""The state dir's files (:class:`lbctl.state.store.StateDir`) on a real temp dir: where it is,
the modes it promises (0700 dir, 0600 ``spec.json`` and token), ``spec.json``'s exact text,
and the errors for unreadable and corrupt files.

Written against the survivors of ``tests/mutation/run_mutmut.py --module state.store``. The
crash at the swap and a full disk are in ``tests/test_atomic_swap.py`` and ``tests/test_faults.py``.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lbctl.errors import StoreError
from lbctl.spec import validate_spec
from lbctl.state.store import ENV_STATE_DIR, StateDir, StoredSpec, resolve_state_dir

SPEC = validate_spec({"frontends": [{"name": "web", "bind": ["127.0.0.1:8080"], "default_backend": "app"}],
                      "backends": [{"name": "app", "servers": [
                          {"name": "s1", "address": "127.0.0.1", "port": 8081}]}]})


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_resolve_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_STATE_DIR, raising=False)
    assert resolve_state_dir() == tmp_path.resolve() / ".lbctl"
    monkeypatch.setenv(ENV_STATE_DIR, str(tmp_path / "from-env"))
    assert resolve_state_dir() == tmp_path.resolve() / "from-env"
    assert resolve_state_dir(tmp_path / "given") == tmp_path.resolve() / "given"
    monkeypatch.setenv(ENV_STATE_DIR, "")
    assert resolve_state_dir() == tmp_path.resolve() / ".lbctl"


def test_ensure_makes_a_private_nested_dir_and_sweeps_temp_files(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "a" / "b" / "state")
    state.ensure()
    assert state.root.is_dir() and _mode(state.root) == 0o700
    leftover = state.write_temp(b"half a write")
    kept = state.root / "haproxy.cfg"
    kept.write_bytes(b"live")
    state.ensure()  # as after a crash: the temp file goes, the rest stays
    assert not leftover.exists() and kept.read_bytes() == b"live"
    state.discard(leftover)  # already gone: no error


def test_write_current_round_trips_in_a_private_file(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    stored = state.write_current(7, SPEC)
    assert (stored.version, stored.spec) == (7, SPEC) and stored.updated_at > 0
    assert _mode(state.spec_path) == 0o600
    text = state.spec_path.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc == {"version": 7, "updated_at": stored.updated_at, "spec": SPEC.to_data()}
    assert text == json.dumps(doc, indent=2) + "\n"
    assert state.read_current() == stored


def test_read_current_without_updated_at(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.spec_path.write_text(json.dumps({"version": 3, "spec": SPEC.to_data()}))
    assert state.read_current() == StoredSpec(3, SPEC, 0.0)


def test_read_current_errors(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    assert state.read_current() is None
    state.spec_path.mkdir()  # unreadable as a file
    with pytest.raises(StoreError) as info:
        state.read_current()
    assert str(info.value).startswith(f"cannot read {state.spec_path}: [Errno 21] Is a directory")
    state.spec_path.rmdir()
    state.spec_path.write_text('{"version": 1}')
    with pytest.raises(StoreError) as info:
        state.read_current()
    assert str(info.value) == f"{state.spec_path} is corrupt: 'spec'"


def test_config_and_lkg_reads(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    assert state.read_config() is None and state.read_lkg() is None
    state.lkg_path.write_bytes(b"lkg")
    state.config_path.write_bytes(b"live")
    assert (state.read_config(), state.read_lkg()) == (b"live", b"lkg")
    state.lkg_path.unlink()
    state.lkg_path.mkdir()
    with pytest.raises(StoreError) as info:
        state.read_lkg()
    assert str(info.value).startswith(f"cannot read {state.lkg_path}: [Errno 21]")


def test_token_is_made_once_private_and_kept(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "new")
    token, created = state.read_or_create_token()
    assert created is True and len(token) == 43  # secrets.token_urlsafe(32): 32 bytes, base64url
    assert _mode(state.token_path) == 0o600 and _mode(state.root) == 0o700
    assert state.token_path.read_text(encoding="utf-8") == token + "\n"
    assert state.read_or_create_token() == (token, False)
    state.token_path.write_text("  given-token \n")
    assert state.read_or_create_token() == ("given-token", False)
    state.token_path.write_text("\n")  # empty: a new one is made
    again, created = state.read_or_create_token()
    assert created is True and again not in ("", token)
    state.token_path.unlink()
    state.token_path.mkdir()
    with pytest.raises(StoreError) as info:
        state.read_or_create_token()
    assert str(info.value).startswith(f"cannot read {state.token_path}: [Errno 21]")


def test_temp_files_commits_and_their_errors(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.ensure()
    temp = state.write_temp(b"data")
    assert temp.parent == state.root and temp.name.startswith(".tmp-") and len(temp.name) == 5 + 8  # mkstemp: 8 random
    assert state.write_temp(b"data", suffix=".cfg").name.endswith(".cfg")
    dest = state.root / "file"
    state.commit(temp, dest)
    assert dest.read_bytes() == b"data" and _mode(dest) == 0o644 and not temp.exists()
    state.atomic_write(state.root / "other", b"x")
    assert _mode(state.root / "other") == 0o644
    state.atomic_write(state.root / "secret", b"x", mode=0o600)
    assert _mode(state.root / "secret") == 0o600

    # A temp file that is not there (chmod fails): StoreError, not a bare FileNotFoundError.
    with pytest.raises(StoreError) as info:
        state.commit(state.root / ".tmp-gone", dest)
    assert str(info.value).startswith(f"cannot replace {dest}: [Errno 2]")
    # The destination's directory is missing: the temp file is removed, dest untouched.
    temp = state.write_temp(b"new")
    nowhere = state.root / "missing" / "file"
    with pytest.raises(StoreError) as info:
        state.commit(temp, nowhere)
    assert str(info.value).startswith(f"cannot replace {nowhere}: [Errno 2]") and not temp.exists()

    # No state dir to write in (mkstemp fails before any file exists).
    absent = StateDir(tmp_path / "absent")
    with pytest.raises(StoreError) as info:
        absent.write_temp(b"x")
    assert str(info.value).startswith(f"cannot write in {absent.root}: [Errno 2]")


def test_ensure_reports_a_root_it_cannot_make(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a dir")
    state = StateDir(tmp_path / "file" / "state")
    with pytest.raises(StoreError) as info:
        state.ensure()
    assert str(info.value).startswith(f"cannot prepare state dir {state.root}: [Errno 20] Not a directory")
