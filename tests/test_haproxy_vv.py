"""Detection on the real ``-vv`` text of every build of the version matrix (issue 11).

``tests/data/haproxy-vv/<build>.txt`` is the saved ``haproxy -vv`` of each build of
:mod:`tests.haproxy_builds` (the ``vv.txt`` beside each cached binary), of the bundled 2.8 and of
Debian's 2.6, so these run without any build. 1.5–1.8 have no "Feature list" line and print Lua
only as "Built with Lua version"; 2.0+ print ``+LUA`` / ``-LUA`` and ``+PROMEX`` too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lbctl.features import HAProxyVersion
from lbctl.haproxy.binary import parse_vv
from tests import haproxy_builds

DATA = Path(__file__).parent / "data" / "haproxy-vv"

#: build → (version, Lua, Prometheus exporter, reload style, smoothing mechanism).
TABLE = {
    "1.5.0": ("1.5.0", False, False, "sf", "throttle"),
    "1.8.0": ("1.8.0", True, False, "signal", "throttle"),  # Lua pacing from 2.0
    "1.8.0-nolua": ("1.8.0", False, False, "signal", "throttle"),
    "2.0.0": ("2.0.0", True, False, "master-cli", "lua"),
    "2.0.0-nolua": ("2.0.0", False, False, "master-cli", "throttle"),
    "2.4.0": ("2.4.0", True, True, "master-cli", "lua"),
    "2.6-debian": ("2.6.12", True, True, "master-cli", "lua"),
    "2.8-bundled": ("2.8.25", True, True, "master-cli", "lua"),
    "3.0.0": ("3.0.0", True, True, "master-cli", "lua"),
    "3.2.0": ("3.2.0", True, True, "master-cli", "lua"),
    "3.3.0": ("3.3.0", True, True, "master-cli", "lua"),
}


def test_every_build_has_its_saved_vv() -> None:
    names = {p.stem for p in DATA.glob("*.txt")}
    assert names == set(TABLE)
    assert {b.name for b in haproxy_builds.BUILDS} <= names


@pytest.mark.parametrize("name", sorted(TABLE))
def test_detection_from_real_vv(name: str) -> None:
    version, lua, promex, reload, mechanism = TABLE[name]
    binary = parse_vv(f"/opt/{name}/haproxy", (DATA / f"{name}.txt").read_text())
    assert binary.version == HAProxyVersion.parse(version)
    assert binary.has("LUA") is lua and binary.has("PROMEX") is promex
    caps = binary.capabilities()
    assert caps.lua is lua and caps.promex is promex
    style = "master-cli" if caps.master_cli else "signal" if caps.master_worker else "sf"
    assert style == reload
    assert ("lua" if caps.lua_pacing else "throttle") == mechanism
    assert caps.http_rules_16 is (binary.version >= HAProxyVersion(1, 6))
    assert caps.show_servers_state is (binary.version >= HAProxyVersion(1, 6))
    assert caps.lua_bool_sample_conversion is (binary.version >= HAProxyVersion(3, 2))
