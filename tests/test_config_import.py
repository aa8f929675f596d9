"""Import (document → spec): ``import(render(S)) == S`` for what lbctl renders, on every
version-gated form, and no line ever dropped silently.

Rendering forgets a few things, so the property holds up to them (:func:`canonical`): the
order of clients (rendered longest prefix first), the weight of a ``drain`` server (rendered
``weight 0``; a ``ready`` one of weight 0 reads back as drained), the burst of a
``mode: reject`` client, ``check`` of servers in a backend without a health check, and the
check timings of a backend none of whose servers is checked.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lbctl.cli import app
from lbctl.config import loads
from lbctl.config.importer import import_spec
from lbctl.errors import SpecError
from lbctl.render import render
from lbctl.spec import Spec, validate_spec

from .test_render import CTX, SPECS, caps

VERSIONS = ("2.8.25", "2.6.12", "2.2.0", "2.0.0")


def canonical(spec: Spec) -> Spec:
    """``spec`` without what rendering does not keep."""
    data = spec.to_data()
    for fe in data["frontends"]:
        fe["clients"].sort(key=lambda c: (-len(c["path_prefix"]), c["path_prefix"]))
        for client in fe["clients"]:
            if client["mode"] == "reject":
                client["burst"] = 0
    for be in data["backends"]:
        for server in be["servers"]:
            if server["state"] == "drain" or (server["state"] == "ready" and server["weight"] == 0):
                server.update(state="drain", weight=1)
            if be["health_check"] is None:
                server["check"] = True
        if be["health_check"] is not None and not any(s["check"] for s in be["servers"]):
            be["health_check"].update(inter=2000, rise=2, fall=3)
    return validate_spec(data)


def round_trip(spec: Spec, version: str) -> Spec:
    return import_spec(loads(render(spec, caps(version), CTX)))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_import_of_render_is_the_spec(name: str, version: str) -> None:
    spec = validate_spec(SPECS[name])
    assert round_trip(spec, version) == canonical(spec)


@pytest.mark.parametrize("name", ["minimal", "story"])
def test_exact_for_specs_rendering_keeps_whole(name: str) -> None:
    spec = validate_spec(SPECS[name])
    assert canonical(spec) == spec and round_trip(spec, "2.8.25") == spec


def _random_spec(rng: random.Random) -> dict[str, Any]:
    backends = []
    for b in range(rng.randint(1, 4)):
        servers = [{"name": f"s{i}", "address": rng.choice(["127.0.0.1", "::1", "app.internal"]),
                    "port": rng.randint(1, 65535), "weight": rng.randint(0, 256),
                    "maxconn": rng.choice([None, rng.randint(1, 1000)]), "backup": rng.random() < 0.3,
                    "state": rng.choice(["ready", "drain", "maint"]), "check": rng.random() < 0.8}
                   for i in range(rng.randint(0, 4))]
        hc = rng.choice([None, {}, {"method": rng.choice(["GET", "HEAD", "OPTIONS"]), "path": "/h",
                                    "expect_status": rng.choice([None, 200, 204]),
                                    "inter": rng.choice(["100ms", "2s", "1m"]),
                                    "rise": rng.randint(1, 5), "fall": rng.randint(1, 5)}])
        backends.append({"name": f"b{b}", "balance": rng.choice(["roundrobin", "leastconn", "source"]),
                         "health_check": hc, "servers": servers})
    names = [b["name"] for b in backends]
    frontends = []
    for f in range(rng.randint(1, 3)):
        prefixes = rng.sample(["/a", "/a/b", "/c/", "/", "/d.e", "/x~y"], rng.randint(0, 4))
        clients = [{"name": f"c{f}{i}", "path_prefix": p, "rate": rng.randint(1, 100),
                    "burst": rng.randint(0, 20), "mode": rng.choice(["smooth", "reject"])}
                   for i, p in enumerate(rng.sample(prefixes, rng.randint(0, len(prefixes))))]
        frontends.append({"name": f"f{f}", "bind": [f"127.0.0.1:{10000 + 10 * f + i}" for i in range(rng.randint(1, 2))],
                          "maxconn": rng.choice([None, 100]), "monitor_uri": rng.choice([None, "/up"]),
                          "default_backend": rng.choice(names),
                          "routes": [{"path_prefix": p, "backend": rng.choice(names)} for p in prefixes],
                          "clients": clients})
    return {"global": {"maxconn": rng.randint(1, 10_000), "peers_port": 9901,
                       "prometheus_exporter": rng.choice([None, {"bind": "127.0.0.1:8405", "path": "/m"}])},
            "defaults": {"timeouts": {"connect": rng.choice(["1s", "500ms"]), "queue": "1m"},
                         "retries": rng.randint(0, 5)},
            "frontends": frontends, "backends": backends}


@pytest.mark.parametrize("seed", range(40))
def test_import_of_render_on_random_specs(seed: int) -> None:
    spec = validate_spec(_random_spec(random.Random(seed)))
    for version in ("2.8.25", "2.0.0"):
        assert round_trip(spec, version) == canonical(spec)


def test_lines_without_a_spec_field_are_errors_naming_them() -> None:
    text = render(validate_spec(SPECS["minimal"]), caps("2.8.25"), CTX)
    text = text.replace("\nbackend b\n", "\nbackend b\n    option forwardfor\n    http-reuse safe\n")
    text += "\nuserlist admins\n    user a insecure-password b\n"
    lines = text.splitlines()
    with pytest.raises(SpecError) as info:
        import_spec(loads(text))
    got = {e.loc: e.message for e in info.value.errors}
    assert got == {
        f"line {lines.index('    option forwardfor') + 1}": "no spec field for it: option forwardfor",
        f"line {lines.index('    http-reuse safe') + 1}": "no spec field for it: http-reuse safe",
        f"line {lines.index('userlist admins') + 1}": "no spec section for 'userlist': userlist admins",
    }


def test_cli_import(tmp_path: Path) -> None:
    spec = validate_spec(SPECS["story"])
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render(spec, caps("2.8.25"), CTX))
    result = CliRunner().invoke(app, ["import", str(cfg)])
    assert result.exit_code == 0, result.stderr
    assert validate_spec(yaml.safe_load(result.stdout)) == canonical(spec)
    cfg.write_text("global\n    nbthread 4\n")
    result = CliRunner().invoke(app, ["import", str(cfg)])
    assert result.exit_code == 1 and "line 2: no spec field for it: nbthread 4" in result.stderr
