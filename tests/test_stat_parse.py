"""The ``show stat`` fast parsers (issue 19, health at 50,000 servers) read what
:mod:`csv` reads, on a real HAProxy's answer (bundled 2.8 and Debian 2.6), and the stats socket
streams an answer line by line without counting the reader's own time against the deadline.

Reference: ``csv.DictReader`` over the answer's lines, the parser these replaced.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_core import to_json

from lbctl.control.health import health_body
from lbctl.demo.backend import RecordingBackend
from lbctl.errors import RuntimeAPIError
from lbctl.haproxy.runtime import (
    HEALTH_COLUMNS,
    RuntimeClient,
    ServerHealth,
    health_dicts,
    health_json,
    normalise_status,
    parse_stat_csv,
    stat_fields,
    stat_health_json,
)
from lbctl.haproxy.sockets import SocketClient

from .agent_helpers import Agent, free_port, running_agent, wait_for


@pytest.fixture
def agent_stat(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    """An agent whose HAProxy has 3 backends of 4 servers: checked ones on a live backend and
    on a closed port, unchecked ones, one in maintenance."""
    closed = free_port()
    data = {
        "global": {"peers_port": free_port()},
        "frontends": [{"name": "web", "bind": [f"127.0.0.1:{free_port()}"],
                       "default_backend": "b0"}],
        "backends": [{
            "name": f"b{b}",
            "health_check": {"method": "HEAD", "path": "/", "inter": "200ms", "rise": 1, "fall": 1},
            "servers": [
                {"name": "live", "address": "127.0.0.1", "port": backend.port},
                {"name": "closed", "address": "127.0.0.1", "port": closed},
                {"name": "nocheck", "address": "127.0.0.1", "port": closed, "check": False},
                {"name": "maint", "address": "127.0.0.1", "port": closed, "state": "maint"},
            ]} for b in range(3)],
    }
    with running_agent(short_dir, data, haproxy_bin) as agent:
        runtime = agent.controller.core.runtime()

        def settled() -> bool:  # every check has run: statuses no longer move between answers
            status = {(r["pxname"], r["svname"]): r["status"] for r in runtime.show_stat()}
            return all(status.get((f"b{b}", "live")) == "UP"
                       and status.get((f"b{b}", "closed")) == "DOWN" for b in range(3))

        wait_for(settled, 15)
        yield agent


def _reference(text: str) -> list[dict[str, str]]:
    lines = [ln for ln in text[2:].splitlines() if ln.strip()]
    return [{k: v for k, v in row.items() if k is not None} for row in csv.DictReader(lines)]


def _runtime(agent: Agent) -> RuntimeClient:
    return agent.controller.core.runtime()


def test_parsers_read_what_csv_reads(agent_stat: Agent) -> None:
    runtime = _runtime(agent_stat)
    text = runtime.command("show stat")
    reference = _reference(text)
    assert len(reference) >= 1 + 3 * 5  # the frontend; per backend 4 servers and BACKEND
    assert list(parse_stat_csv(text)) == reference
    again = runtime.show_stat()  # a second answer: checks and counters may have moved
    assert [(r["pxname"], r["svname"], list(r)) for r in again] == \
        [(r["pxname"], r["svname"], list(r)) for r in reference]
    assert list(stat_fields(text, HEALTH_COLUMNS)) == [
        tuple(row.get(c) or "" for c in HEALTH_COLUMNS) for row in reference]
    # backends_health streams the socket; it reads what the dict rows say
    health = runtime.backends_health()
    assert [b.name for b in health] == ["b0", "b1", "b2"]
    servers = [s for b in health for s in b.servers]
    want = [ServerHealth.from_row(r) for r in reference if r["svname"] not in ("FRONTEND", "BACKEND")]
    assert [(s.backend, s.server) for s in servers] == [(s.backend, s.server) for s in want]
    assert {s.server: s.status for s in servers if s.backend == "b0"}["maint"] == "MAINT"
    for got, ref in zip(servers, want, strict=True):  # counters may move between two answers
        assert (got.status_raw.split(" ")[0], got.weight) == (ref.status_raw.split(" ")[0], ref.weight)
    assert all(b.status == normalise_status(r["status"]) for b in health for r in reference
               if r["pxname"] == b.name and r["svname"] == "BACKEND")
    # the JSON text built row by row is to_json of the dicts, byte for byte
    rows = list(stat_fields(text, HEALTH_COLUMNS))
    down = [(*r[:2], "DOWN", *r[3:]) if r[1] != "BACKEND" and r[0] == "b1" else r for r in rows]
    for table, internal in itertools.product((rows, down), (False, True)):
        made, dicts = health_json(table, include_internal=internal), health_dicts(table, include_internal=internal)
        assert made.text == to_json(dicts).decode()
        assert made.unusable == [(b["name"], [(s["server"], s["status"]) for s in b["servers"]])
                                 for b in dicts if not b["usable"]]
    assert [name for name, _ in health_json(down).unusable] == ["b1"]
    # the health report's rows (no objects): what as_dict() of each backend writes
    dicts = runtime.backends_health_dicts()
    assert [(d["name"], d["status"], d["usable"], list(d)) for d in dicts] == \
        [(b.name, b.status, b.usable, list(b.as_dict())) for b in health]
    for got_b, ref_b in zip(dicts, health, strict=True):
        assert [list(s) for s in got_b["servers"]] == [list(s.as_dict()) for s in ref_b.servers]
        assert [(s["backend"], s["server"], s["status_raw"].split(" ")[0], s["weight"])
                for s in got_b["servers"]] == [(s.backend, s.server, s.status_raw.split(" ")[0],
                                                s.weight) for s in ref_b.servers]


def test_health_json_of_the_lines_is_health_json_of_the_rows(agent_stat: Agent) -> None:
    """The API's path (``stat_health_json``: the answer's lines split in place) writes what
    ``health_json`` of ``stat_fields`` and ``to_json`` of ``health_dicts`` write, on a real
    answer and on the same answer with quoted fields, short rows, statuses that make a backend
    unusable, internal backends, blank lines and rows out of HAProxy's order; an answer
    without one of the columns (an older HAProxy) goes through ``stat_fields``."""
    runtime = _runtime(agent_stat)
    text = runtime.command("show stat")
    header, *rows = [ln for ln in text.splitlines() if ln.strip()]
    names = header[2:].split(",")

    def check(lines: list[str]) -> None:
        for internal in (False, True):
            made = stat_health_json(iter(lines), include_internal=internal)
            table = list(stat_fields(iter(lines), HEALTH_COLUMNS))
            dicts = health_dicts(table, include_internal=internal)
            assert made == health_json(table, include_internal=internal)
            assert made.text == to_json(dicts).decode()
            assert made.unusable == [(b["name"], [(s["server"], s["status"]) for s in b["servers"]])
                                     for b in dicts if not b["usable"]]

    check(text.split("\n"))
    edited = []
    for i, row in enumerate(rows):
        fields = row.split(",")
        if i % 7 == 1:
            fields[names.index("last_chk")] = '"refused, twice ""here"""'
        if i % 7 == 4:  # a value JSON escapes: the text written per server is to_json's
            fields[names.index("check_status")] = '"L7\\STS ""x"", \t-1"'
            fields[names.index("lastchg")] = "-1"
        if fields[0] == "b1" and fields[1] != "BACKEND":
            fields[names.index("status")] = "DOWN 1/2"
        if fields[0] == "b2" and i % 2 == 0:  # b2 and lbctl_b2 interleaved
            fields[0] = "lbctl_b2"
        edited.append(",".join(fields[: names.index("weight")] if i % 6 == 3 else fields))
    odd = [header, *edited[::-1], "  ", *edited[:4], ""]  # BACKEND rows before their servers
    check(odd)
    assert "b1" in [name for name, _ in stat_health_json(iter(odd)).unusable]
    drop = names.index("hrsp_5xx")  # an older HAProxy: a column fewer
    check(["# " + ",".join(n for i, n in enumerate(names) if i != drop),
           *[",".join(f for i, f in enumerate(row.split(",")) if i != drop) for row in rows]])
    with pytest.raises(RuntimeAPIError, match="unexpected answer"):
        stat_health_json(iter(["Permission denied", ""]))


def test_quoted_field_and_short_row(agent_stat: Agent) -> None:
    text = _runtime(agent_stat).command("show stat")
    header, *rows = [ln for ln in text.splitlines() if ln.strip()]
    names = header[2:].split(",")
    fields = rows[1].split(",")
    fields[names.index("last_chk")] = '"refused, twice ""here"""'
    fields[names.index("status")] = "DOWN 1/2"
    quoted = ",".join(fields)
    short = ",".join(rows[1].split(",")[: names.index("status")])  # ends before status
    doc = "\n".join([header, quoted, short]) + "\n"
    reference = _reference(doc)
    assert reference[0]["last_chk"] == 'refused, twice "here"'
    assert list(parse_stat_csv(doc)) == [{k: v for k, v in r.items() if v is not None}
                                         for r in reference]
    got = list(stat_fields(doc, HEALTH_COLUMNS))
    assert got[0][HEALTH_COLUMNS.index("status")] == "DOWN 1/2"
    assert got[1][HEALTH_COLUMNS.index("status")] == ""
    assert ServerHealth.from_fields(got[0]) == ServerHealth.from_row(reference[0])
    assert ServerHealth.from_fields(got[0]).status == "DOWN"


def test_not_csv_is_refused(agent_stat: Agent) -> None:
    answer = _runtime(agent_stat).command("show nonsense")
    with pytest.raises(RuntimeAPIError, match="unexpected answer"):
        list(stat_fields(answer, HEALTH_COLUMNS))
    with pytest.raises(RuntimeAPIError, match="unexpected answer"):
        list(parse_stat_csv(answer))


def test_command_lines_streams_and_pauses_the_deadline(agent_stat: Agent) -> None:
    path = _runtime(agent_stat).socket_path
    whole = SocketClient(path).command("show stat")
    assert list(SocketClient(path).command_lines("show stat"))[:1] == whole.split("\n")[:1]
    timeout = 0.5
    slow = SocketClient(path, timeout=timeout)
    started = time.monotonic()
    lines = []
    for line in slow.command_lines("show stat"):
        lines.append(line)
        time.sleep(timeout / 4)  # the reader's time: not HAProxy's
    took = time.monotonic() - started
    assert took > timeout * 2  # the reading outlasted the deadline, the answer still came whole
    assert [ln.split(",")[:2] for ln in lines if ln] == \
        [ln.split(",")[:2] for ln in whole.split("\n") if ln]


def test_health_body_is_the_report_as_json(agent_stat: Agent) -> None:
    """``GET /health``'s bytes (the backends written as text, spliced into the report) are
    ``to_json`` of the report: on a real agent, and for a report whose strings hold the text
    the splice looks for."""
    ok, body = agent_stat.controller.health_body()
    report = agent_stat.controller.health()
    got = json.loads(body)
    assert ok is report["ok"] is got["ok"]
    assert list(got) == list(report)
    assert [(b["name"], b["status"], [(s["server"], list(s)) for s in b["servers"]])
            for b in got["backends"]] == [(b["name"], b["status"], [(s["server"], list(s))
                                                                    for s in b["servers"]])
                                          for b in report["backends"]]
    backends = [{"name": "b", "status": "UP", "usable": True, "servers": []}]
    for unavailable in (None, 'no "backends":[] here'):
        tricky = {**report, "haproxy": {"running": False, "unavailable": unavailable},
                  "reasons": ['"backends":[]'], "backends": []}
        assert health_body(tricky, to_json(backends).decode()) == to_json(
            {**tricky, "backends": backends})
