"""The token store (``tokens.json``), the authenticator, and ``lbctl token create|list|revoke``."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lbctl.cli.main import app
from lbctl.errors import LbctlError, NotFound, StoreError
from lbctl.state.store import StateDir
from lbctl.state.tokens import Authenticator, Principal, TokenStore, hash_token, parse_role

runner = CliRunner()


def invoke(state: Path, *args: str) -> Any:
    return runner.invoke(app, ["token", *args, "--state-dir", str(state)])


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(StateDir(tmp_path / "state"))


def test_create_stores_only_the_hash(store: TokenStore) -> None:
    token, record = store.create("grafana", "viewer")
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    raw = store.path.read_text()
    assert token not in raw
    assert store.path.stat().st_mode & 0o777 == 0o600
    (entry,) = json.loads(raw)["tokens"]
    assert entry == {"name": "grafana", "role": "viewer", "created_at": record.created_at,
                     "sha256": hashlib.sha256(token.encode()).hexdigest()}
    assert store.records() == [record]


def test_names_roles_and_duplicates(store: TokenStore) -> None:
    store.create("ops", "operator")
    with pytest.raises(LbctlError, match="exists"):
        store.create("ops", "viewer")
    with pytest.raises(LbctlError, match="bootstrap"):
        store.create("admin", "admin")
    for bad in ("", "-x", "a b", "a#b", "x" * 64, "é"):
        with pytest.raises(LbctlError, match="bad token name"):
            store.create(bad, "viewer")
    assert parse_role(" Operator") == "operator"
    with pytest.raises(ValueError, match="viewer, operator, admin"):
        parse_role("root")
    with pytest.raises(NotFound):
        store.revoke("nobody")
    assert [r.name for r in store.records()] == ["ops"]


def test_authenticator_follows_the_file(store: TokenStore) -> None:
    auth = Authenticator("boot", store)
    assert auth.authenticate("boot") == Principal("admin", "admin")
    assert auth.authenticate("nope") is None
    token, _ = store.create("ci", "admin")  # the file appears after the authenticator
    assert auth.authenticate(token) == Principal("ci", "admin")
    token2, _ = store.create("ann", "viewer")
    assert auth.authenticate(token2) == Principal("ann", "viewer")
    store.revoke("ci")
    assert auth.authenticate(token) is None
    assert auth.authenticate(token2) == Principal("ann", "viewer")
    assert auth.authenticate(hash_token(token2)) is None  # the stored hash is no token


def test_corrupt_file_fails_closed_but_bootstrap_works(store: TokenStore) -> None:
    token, _ = store.create("ann", "viewer")
    auth = Authenticator("boot", store)
    assert auth.authenticate(token) is not None
    store.path.write_text('{"tokens": [{"name": "ann"}]}')
    with pytest.raises(StoreError, match="corrupt"):
        auth.authenticate(token)
    assert auth.authenticate("boot") == Principal("admin", "admin")
    with pytest.raises(ValueError):
        Authenticator("", store)


def test_concurrent_creates_lose_nothing(store: TokenStore) -> None:
    errors: list[BaseException] = []

    def make(i: int) -> None:
        try:
            store.create(f"t{i}", "viewer")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r.name for r in store.records()) == sorted(f"t{i}" for i in range(16))


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = invoke(state, "create", "--role", "operator", "--name", "ops")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert len(token) >= 43 and "shown only now" in result.stderr
    assert token not in (state / "tokens.json").read_text()
    assert Authenticator("boot", TokenStore(StateDir(state))).authenticate(token) == Principal(
        "ops", "operator")

    listed = invoke(state, "list")
    assert listed.exit_code == 0, listed.output
    assert "ops" in listed.stdout and "operator" in listed.stdout and token not in listed.stdout
    as_json = json.loads(invoke(state, "list", "--json").stdout)
    assert [(t["name"], t["role"], t["bootstrap"]) for t in as_json["tokens"]] == [
        ("admin", "admin", True), ("ops", "operator", False)]
    assert all(set(t) == {"name", "role", "created_at", "bootstrap"} for t in as_json["tokens"])

    revoked = invoke(state, "revoke", "ops")
    assert revoked.exit_code == 0 and "revoked token 'ops'" in revoked.stdout
    assert TokenStore(StateDir(state)).records() == []
    assert Authenticator("boot", TokenStore(StateDir(state))).authenticate(token) is None


def test_cli_errors(tmp_path: Path) -> None:
    state = tmp_path / "state"
    bad_role = invoke(state, "create", "--role", "root", "--name", "x")
    assert bad_role.exit_code == 2 and "unknown role" in bad_role.output
    assert invoke(state, "create", "--role", "viewer", "--name", "a b").exit_code == 1
    assert invoke(state, "create", "--role", "viewer", "--name", "x").exit_code == 0
    dup = invoke(state, "create", "--role", "viewer", "--name", "x")
    assert dup.exit_code == 1 and "exists" in dup.stderr
    unknown = invoke(state, "revoke", "nobody")
    assert unknown.exit_code == 4 and unknown.stderr.startswith("NotFound:")
    boot = invoke(state, "revoke", "admin")
    assert boot.exit_code == 1 and "bootstrap" in boot.stderr
