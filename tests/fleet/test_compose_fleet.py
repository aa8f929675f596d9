"""docker-compose.yml's ``fleet`` profile, checked by reading (no Docker engine runs here): one
etcd and three lbctl nodes on the built image, each ``lbctl serve --fleet`` with its own name and
state volume, none published on the host, and ``docker-compose --profile fleet config`` valid."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from lbctl.spec import load_spec
from tests.test_compose import COMPOSE_FILE, ROOT, _check_lbctl_call

NODES = ("lb1", "lb2", "lb3")


@pytest.fixture(scope="module")
def profile() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return {name: svc for name, svc in data["services"].items()
            if "fleet" in (svc.get("profiles") or [])}


def test_one_etcd_and_three_nodes(profile: dict[str, dict[str, Any]]) -> None:
    assert set(profile) == {"etcd", *NODES}
    etcd = profile["etcd"]
    assert "--advertise-client-urls" in etcd["command"] and "2379" in etcd["expose"]
    names = set()
    for name in NODES:
        svc = profile[name]
        env = svc["environment"]
        assert env["LBCTL_FLEET"] == "http://etcd:2379" and "etcd" in svc["depends_on"]
        names.add(env["LBCTL_NODE"])
        assert env["LBCTL_PEER_ADDRESS"] == f"{name}:9901"  # reachable from the other nodes
        assert not svc.get("ports"), f"{name} publishes ports"
        assert svc["build"]["dockerfile"] == "haproxy/Dockerfile" and svc["image"] == "lbctl:local"
        states = [v for v in svc["volumes"] if str(v).endswith(":/var/lib/lbctl")]
        assert states == [f"{name}-state:/var/lib/lbctl"]
    assert names == set(NODES)
    # The environment variables are lbctl serve's own (its entrypoint runs serve).
    _check_lbctl_call(["serve", "--fleet", "--node", "--peer-address"], "the fleet profile")
    # Only lb1 applies a spec; it is the compose spec, which validates.
    mounted = [str(v).split(":")[0] for n in NODES for v in profile[n]["volumes"]
               if str(v).split(":")[1] == "/etc/lbctl/spec.yaml"]
    assert mounted == ["./haproxy/specs/compose.yaml"]
    load_spec(ROOT / mounted[0])


def test_fleet_profile_config_parses() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed")
    proc = subprocess.run([tool, "-f", str(COMPOSE_FILE), "--profile", "fleet", "config", "-q"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
