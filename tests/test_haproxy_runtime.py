"""lbctl.haproxy.runtime: the stats socket of a real HAProxy (2.8 and 2.6) with real backends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lbctl.errors import CommandRefused, HAProxyUnavailable, NotFound, RuntimeAPIError
from lbctl.haproxy.binary import HAProxyBinary, inspect_binary
from lbctl.haproxy.process import HAProxyProcess
from lbctl.haproxy.runtime import (
    RuntimeClient,
    ServerHealth,
    normalise_status,
    parse_table_entries,
)
from tests.haproxy_helpers import (
    Backend,
    backend,
    binary_params,
    config,
    free_port,
    http_get,
    managed,
    short_tmpdir,
    wait_for,
)

INTER_MS, FALL = 200, 2


@dataclass
class Lab:
    binary: HAProxyBinary
    proc: HAProxyProcess
    client: RuntimeClient
    port: int
    app1: Backend
    app2: Backend


@pytest.fixture(params=binary_params())
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    binary = inspect_binary(request.param)
    with short_tmpdir() as run_dir, backend("app1") as app1, backend("app2") as app2:
        port = free_port()
        text = config(
            run_dir,
            port,
            [("app1", app1.port), ("app2", app2.port)],
            check=f"check inter {INTER_MS} fall {FALL} rise 1",
            extra_frontend=(
                "stick-table type string len 32 size 100 expire 10s store http_req_rate(1s),gpc0\n"
                "    http-request track-sc0 str(client1)"
            ),
        )
        text += "backend lbctl_client1\n    server internal 127.0.0.1:1\n"
        text += "backend dead\n    option httpchk\n    server d1 127.0.0.1:1 check inter 200\n"
        (run_dir / "haproxy.cfg").write_text(text)
        proc = HAProxyProcess(binary, config_path=run_dir / "haproxy.cfg", run_dir=run_dir)
        with managed(proc):
            proc.start()
            client = RuntimeClient(run_dir / "haproxy.sock")
            lab = Lab(binary, proc, client, port, app1, app2)
            wait_for(lambda: _server(lab, "b", "app2").check_status == "L7OK", 3)
            yield lab


def _server(lab: Lab, backend_name: str, server: str) -> ServerHealth:
    for be in lab.client.backends_health(include_internal=True):
        for srv in be.servers:
            if (be.name, srv.server) == (backend_name, server):
                return srv
    raise AssertionError(f"no {backend_name}/{server}")


def test_show_info_and_stat(lab: Lab) -> None:
    info = lab.client.show_info()
    assert info["Version"].startswith(str(lab.binary.version))
    assert int(info["Pid"]) in lab.proc.worker_pids()
    rows = lab.client.show_stat()
    names = {(r["pxname"], r["svname"]) for r in rows}
    assert {("f", "FRONTEND"), ("b", "app1"), ("b", "app2"), ("b", "BACKEND")} <= names
    assert all("status" in r and "scur" in r for r in rows)


def test_backends_health(lab: Lab) -> None:
    health = {b.name: b for b in lab.client.backends_health()}
    assert set(health) == {"b", "dead"}  # frontends and lbctl_* skipped
    b = health["b"]
    assert (b.status, b.usable) == ("UP", True)
    app1 = b.servers[0]
    assert (app1.server, app1.status, app1.usable, app1.weight) == ("app1", "UP", True, 1)
    assert app1.check_status == "L7OK" and app1.check_duration_ms is not None
    assert app1.current_sessions == 0 and app1.queue == 0
    assert app1.as_dict()["status_raw"].startswith("UP")
    wait_for(lambda: _server(lab, "dead", "d1").status == "DOWN", 3)
    dead = next(b for b in lab.client.backends_health() if b.name == "dead")
    assert (dead.status, dead.usable) == ("DOWN", False)
    assert dead.as_dict()["servers"][0]["check_status"] == "L4CON"
    internal = {b.name for b in lab.client.backends_health(include_internal=True)}
    assert "lbctl_client1" in internal
    assert _server(lab, "lbctl_client1", "internal").status == "no check"
    assert _server(lab, "lbctl_client1", "internal").usable


def test_server_goes_down_within_fall_times_inter(lab: Lab) -> None:
    assert _server(lab, "b", "app2").status == "UP"
    lab.app2.stop()
    started = time.monotonic()
    wait_for(lambda: _server(lab, "b", "app2").status == "DOWN", FALL * INTER_MS / 1000 + 1, 0.02)
    assert time.monotonic() - started <= FALL * INTER_MS / 1000 + 1
    down = _server(lab, "b", "app2")
    assert not down.usable and down.check_status == "L4CON"
    assert next(b for b in lab.client.backends_health() if b.name == "b").usable  # app1 still
    for _ in range(4):
        assert http_get(lab.port)[2] == "app1"


def test_set_server_state_read_back(lab: Lab) -> None:
    lab.client.set_server_state("b", "app1", "drain")
    srv = _server(lab, "b", "app1")
    assert (srv.status, srv.usable) == ("DRAIN", False)
    lab.client.set_server_state("b", "app1", "maint")
    srv = _server(lab, "b", "app1")
    assert (srv.status, srv.usable) == ("MAINT", False)
    for _ in range(4):
        assert http_get(lab.port)[2] == "app2"
    lab.client.set_server_state("b", "app1", "ready")
    wait_for(lambda: _server(lab, "b", "app1").status == "UP", 2)
    assert _server(lab, "b", "app1").usable


def test_set_server_weight_read_back(lab: Lab) -> None:
    lab.client.set_server_weight("b", "app1", 50)
    assert _server(lab, "b", "app1").weight == 50
    with pytest.raises(RuntimeAPIError, match="between 0 and 256"):
        lab.client.set_server_weight("b", "app1", 500)


def test_show_servers_state_holds_the_weight_in_maintenance(lab: Lab) -> None:
    lab.client.set_server_state("b", "app1", "maint")
    lab.client.set_server_weight("b", "app1", 9)
    rows = {r["srv_name"]: r for r in lab.client.show_servers_state("b")}
    assert set(rows) == {"app1", "app2"}
    assert int(rows["app1"]["srv_admin_state"]) & 0x01 and rows["app1"]["srv_uweight"] == "9"
    assert (rows["app2"]["srv_admin_state"], rows["app2"]["srv_uweight"]) == ("0", "1")
    with pytest.raises(NotFound):
        lab.client.show_servers_state("nope")


def test_unknown_backend_or_server(lab: Lab) -> None:
    with pytest.raises(NotFound, match="No such server"):
        lab.client.set_server_state("b", "nope", "drain")
    with pytest.raises(NotFound, match="No such backend"):
        lab.client.set_server_weight("nope", "app1", 1)
    with pytest.raises(NotFound):
        lab.client.show_table("nope")


def test_refusals_never_reach_haproxy(lab: Lab) -> None:
    with pytest.raises(CommandRefused):
        lab.client.command("show info; show stat")
    with pytest.raises(CommandRefused):
        lab.client.set_server_state("b", "app1;shutdown sessions server b/app2", "drain")
    with pytest.raises(CommandRefused):
        lab.client.set_server_state("b", "app1 weight 0", "drain")
    with pytest.raises(CommandRefused):
        lab.client.set_server_state("b", "app1", "down")
    with pytest.raises(CommandRefused):
        lab.client.show_table("f\nshow info")
    assert _server(lab, "b", "app1").status == "UP"


def test_show_table_entries(lab: Lab) -> None:
    for _ in range(3):
        assert http_get(lab.port)[0] == 200
    assert "table: f" in lab.client.show_table()
    [entry] = lab.client.show_table_entries("f")
    assert entry["key"] == "client1"
    assert int(entry["http_req_rate(1000)"]) == 3
    assert entry["gpc0"] == "0"


def test_parse_table_entries_text() -> None:
    text = (
        "# table: f, type: string, size:100, used:2\n"
        "0x55d0c8a0: key=client1 use=0 exp=9980 shard=0 http_req_rate(1000)=3 gpc0=1\n"
        "0x55d0c8b0: key=with space use=1 exp=10 gpc0=0\n\n"
    )
    assert parse_table_entries(text) == [
        {
            "key": "client1",
            "use": "0",
            "exp": "9980",
            "shard": "0",
            "http_req_rate(1000)": "3",
            "gpc0": "1",
        },
        {"key": "with space", "use": "1", "exp": "10", "gpc0": "0"},
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("UP", "UP"),
        ("UP 1/3", "UP"),
        ("DOWN 1/2", "DOWN"),
        ("MAINT (via b/s1)", "MAINT"),
        ("DRAIN (agent)", "DRAIN"),
        ("NOLB", "NOLB"),
        ("no check", "no check"),
        ("OPEN", "OPEN"),
    ],
)
def test_normalise_status(raw: str, expected: str) -> None:
    assert normalise_status(raw) == expected


def test_usable_rules() -> None:
    row = {"pxname": "b", "svname": "s", "status": "no check", "weight": "0", "scur": "", "qcur": ""}
    assert not ServerHealth.from_row(row).usable
    assert ServerHealth.from_row({**row, "weight": "1"}).usable
    assert ServerHealth.from_row({**row, "status": "UP 1/3", "weight": "1"}).usable
    assert not ServerHealth.from_row({**row, "status": "NOLB", "weight": "1"}).usable


def test_unavailable_after_stop(lab: Lab) -> None:
    lab.proc.stop()
    with pytest.raises(HAProxyUnavailable):  # the socket file stays; connect() is refused
        lab.client.show_info()


def test_show_stat_narrowed_to_one_server_is_its_row_of_the_whole_dump(lab: Lab) -> None:
    """``show stat <iid> 4 <sid>`` (the ids ``show servers state`` gives) answers that server's
    row alone, the same as its row in the whole dump: the read-back of a runtime change reads
    one line, not every server's."""
    lab.client.set_server_state("b", "app2", "drain")
    whole = lab.client.show_stat()
    for server in ("app1", "app2"):
        [state] = [r for r in lab.client.show_servers_state("b") if r["srv_name"] == server]
        rows = lab.client.show_stat(int(state["be_id"]), 4, int(state["srv_id"]))
        assert [(r["pxname"], r["svname"]) for r in rows] == [("b", server)]
        [full] = [r for r in whole if (r["pxname"], r["svname"]) == ("b", server)]
        for column in ("status", "weight", "check_status", "iid", "sid"):
            assert rows[0][column] == full[column], column
    assert len(whole) > 2  # the frontend, the backend and both servers, at least
