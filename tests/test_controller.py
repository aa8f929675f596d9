"""Controller apply pipeline against the real HAProxy binaries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lbctl.control.controller import Controller
from lbctl.demo.backend import RecordingBackend
from lbctl.errors import ConfigRejected, PreconditionRequired, VersionConflict
from lbctl.spec import validate_spec
from lbctl.state.store import StateDir

from .conftest import free_port


def make_spec(front: int, peers: int, servers: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "global": {"peers_port": peers},
        "frontends": [{"name": "web", "bind": [f"127.0.0.1:{front}"], "default_backend": "app",
                       "clients": [{"name": "c1", "path_prefix": "/c1", "rate": 50, "burst": 5}]}],
        "backends": [{"name": "app", "servers": [
            {"name": n, "address": "127.0.0.1", "port": p} for n, p in servers]}],
    }


@pytest.fixture
def ctl(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> Iterator[tuple[Controller, dict[str, Any]]]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    state = StateDir(short_dir)
    state.ensure()
    state.write_current(1, validate_spec(data))
    c = Controller(state, haproxy_bin=haproxy_bin)
    c.start()
    yield c, data
    c.shutdown()
    assert not c.health()["haproxy"]["running"]


def test_start_serves_and_is_healthy(ctl: tuple[Controller, dict[str, Any]]) -> None:
    c, data = ctl
    port = data["frontends"][0]["bind"][0].split(":")[1]
    r = httpx.get(f"http://127.0.0.1:{port}/x")
    assert r.status_code == 200 and r.headers["x-backend-name"] == "backend"
    assert c.status()["haproxy"]["running"]


def test_apply_adds_server_and_guards_versions(ctl: tuple[Controller, dict[str, Any]]) -> None:
    c, data = ctl
    port = data["frontends"][0]["bind"][0].split(":")[1]
    with RecordingBackend("second") as b2:
        data["backends"][0]["servers"] = [{"name": "s2", "address": "127.0.0.1", "port": b2.port}]
        before = c.config_source()
        with pytest.raises(PreconditionRequired):
            c.apply(validate_spec(data), if_match=None)
        with pytest.raises(VersionConflict):
            c.apply(validate_spec(data), if_match=7)
        assert c.config_source() == before and c.current()[0] == 1
        result = c.apply(validate_spec(data), if_match=1)
        assert result.version == 2 and result.changed and result.reload and result.reload.ok
        r = httpx.get(f"http://127.0.0.1:{port}/x")
        assert r.headers["x-backend-name"] == "second"
        again = c.apply(validate_spec(data), if_match=2)
        assert not again.changed and again.version == 2


def test_rejected_config_changes_nothing(ctl: tuple[Controller, dict[str, Any]]) -> None:
    c, data = ctl
    port = data["frontends"][0]["bind"][0].split(":")[1]
    before = c.config_source()
    data["backends"][0]["servers"] = [{"name": "bad", "address": "nonexistent.invalid", "port": 80}]
    with pytest.raises(ConfigRejected) as info:
        c.apply(validate_spec(data), if_match=1)
    assert any(d.field == "backends[0].servers[0]" for d in info.value.diagnostics), info.value.diagnostics
    assert c.config_source() == before and c.current()[0] == 1
    assert httpx.get(f"http://127.0.0.1:{port}/x").status_code == 200
