"""Host safety (issue 14): no API caller gets code execution or file access on the host.

Unit tests of :mod:`lbctl.spec.policy` on parsed text, then the attacks through a real agent
and real HAProxy: each is a 422 naming the directive, the live file is byte-identical, there
was no reload, and the marker file the attack would write does not exist.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lbctl.config import loads
from lbctl.spec.policy import HostOptions, HostPolicy
from tests.agent_helpers import free_port, make_spec, running_agent, wait_for


def _policy(root: Path, *extra: Path) -> HostPolicy:
    return HostPolicy.for_state(root, root, HostOptions(allow_paths=extra))


def _refused(policy: HostPolicy, text: str) -> list[str]:
    return [r.directive for r in policy.screen(loads(text))]


REFUSED_GLOBAL = ["master-worker", "daemon", "nbproc 2", "lua-load /tmp/x.lua",
                  "lua-load-per-thread /tmp/x.lua", "lua-prepend-path /tmp/?.lua",
                  "external-check", "insecure-fork-wanted", "insecure-setuid-wanted",
                  "setenv A b", "presetenv A b", "resetenv", "unsetenv A", "chroot /tmp",
                  "user root", "group root", "uid 0", "gid 0", "stats socket /tmp/s.sock",
                  "pidfile /tmp/p", "unix-bind prefix /tmp", "ssl-engine rdrand",
                  "set-dumpable", "default-path origin /"]


@pytest.mark.parametrize("line", REFUSED_GLOBAL)
def test_refused_global_directive(short_dir: Path, line: str) -> None:
    got = _refused(_policy(short_dir), f"global\n    {line}\n")
    assert got and got[0].split()[0] == line.split()[0]


@pytest.mark.parametrize("text, directive", [
    ("program pwn\n    command /bin/sh -c id\n", "program"),
    ("backend b\n    option external-check\n", "option external-check"),
    ("frontend f\n    http-request return status 200 file /root/x\n", "http-request file path"),
    ("frontend f\n    http-request deny lf-file /etc/shadow\n", "http-request lf-file path"),
    ("backend b\n    errorfile 503 /etc/passwd\n", "errorfile path"),
    ("http-errors e\n    errorfile 503 /etc/passwd\n", "errorfile path"),
    ("frontend f\n    bind :443 ssl crt /etc/ssl/private/k.pem\n", "bind crt path"),
    ("backend b\n    server s 1.2.3.4:443 ssl ca-file /etc/ssl/ca.pem\n", "server ca-file path"),
    ("frontend f\n    acl a path -f /etc/x.lst\n", "-f (ACL/map file) path"),
    ("frontend f\n    use_backend %[req.hdr(host),map_dom(/etc/m.map)]\n", "map_dom() file path"),
    ("frontend f\n    filter spoe engine e config /etc/spoe.cfg\n", "filter config path"),
    ("frontend f\n    bind /etc/passwd\n", "bind address path"),
    ("backend b\n    server s unix@/var/run/docker.sock\n", "server address path"),
    ("global\n    log /dev/log local0\n", "log address path"),
    ("global\n    ssl-dh-param-file /etc/dh.pem\n", "ssl-dh-param-file path"),
    ("global\n    crt-base /etc/ssl\n", "crt-base path"),
    ("backend b\n    errorfile 503 ${HOME}/x\n", "errorfile path"),
])
def test_refused_line(short_dir: Path, text: str, directive: str) -> None:
    assert directive in _refused(_policy(short_dir), text)


def test_lbctl_own_lines_pass(short_dir: Path) -> None:
    policy = HostPolicy.for_state(short_dir, short_dir, user="haproxy", group="haproxy")
    assert policy.own_lua is not None
    text = (f"global\n    user haproxy\n    group haproxy\n"
            f"    stats socket {short_dir}/haproxy.sock mode 600 level admin\n"
            f"    lua-load {policy.own_lua}\n"
            f"backend b\n    errorfile 429 {policy.own_lua.parent.parent}/errors/429.http\n")
    assert _refused(policy, text) == []
    assert _refused(policy, "global\n    user nobody\n") == ["user"]


def test_dotdot_and_symlink_escapes(short_dir: Path) -> None:
    files = short_dir / "files"
    files.mkdir()
    (files / "ok.http").write_text("HTTP/1.0 503\r\n\r\n")
    (files / "link.http").symlink_to("/etc/passwd")
    policy = _policy(short_dir)
    assert _refused(policy, f"backend b\n    errorfile 503 {files}/ok.http\n") == []
    assert _refused(policy, "backend b\n    errorfile 503 files/ok.http\n") == []
    assert _refused(policy, f"backend b\n    errorfile 503 {files}/../token\n") == ["errorfile path"]
    assert _refused(policy, f"backend b\n    errorfile 503 {files}/link.http\n") == ["errorfile path"]


def test_allow_path_and_allow_directive(short_dir: Path, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "e.http").write_text("x")
    (certs / "out.http").symlink_to("/etc/hostname")
    env = {"LBCTL_ALLOW_DIRECTIVES": "lua-load", "LBCTL_ALLOW_PATHS": str(certs)}
    options = HostOptions.gather(environ=env)
    policy = HostPolicy.for_state(short_dir, short_dir, options)
    assert _refused(policy, f"backend b\n    errorfile 503 {certs}/e.http\n") == []
    assert _refused(policy, f"backend b\n    errorfile 503 {certs}/out.http\n") == ["errorfile path"]
    assert _refused(policy, f"global\n    lua-load {certs}/x.lua\n") == []
    assert _refused(policy, "global\n    lua-load /tmp/x.lua\n") == ["lua-load path"]
    assert "lua-load" in policy.describe()["allowed_directives"]
    with pytest.raises(ValueError, match="unknown directive"):
        HostOptions.gather(allow_directives=["lua-lod"], environ={})


# -- through the agent (real HAProxy) -----------------------------------------------------------
def _marker_lua(tmp: Path) -> tuple[Path, Path]:
    marker = tmp / "lua-ran.txt"
    lua = tmp / "x.lua"
    lua.write_text(f'local f = io.open("{marker}", "w"); f:write("ran"); f:close()\n')
    return lua, marker


def _put(agent: Any, data: dict[str, Any]) -> Any:
    return agent.api.put("/api/v1/config", json=data,
                         headers={"If-Match": f'"{agent.controller.version}"'})


def _unchanged(agent: Any, live: bytes, reloads: int) -> None:
    assert agent.state.read_config() == live
    assert agent.controller.status()["haproxy"].get("reloads", 0) == reloads


def test_attacks_through_the_agent(short_dir: Path, haproxy_bin: str) -> None:
    data = make_spec(free_port(), free_port(), [("s1", free_port())])
    lua, marker = _marker_lua(short_dir)
    pwned = short_dir / "pwned.txt"
    with running_agent(short_dir / "st", data, haproxy_bin) as agent:
        live = agent.state.read_config()
        assert live is not None
        reloads = agent.controller.status()["haproxy"].get("reloads", 0)
        version = agent.controller.version

        # 1. program + master-worker through the source view.
        text = live.decode() + f"\nprogram pwn\n    command /bin/sh -c 'id > {pwned}'\n"
        text = text.replace("global\n", "global\n    master-worker\n", 1)
        for dry in (False, True):
            r = agent.api.put("/api/v1/config/source", content=text,
                              params={"dry_run": str(dry).lower()},
                              headers={"Content-Type": "text/plain", "If-Match": f'"{version}"'})
            assert r.status_code == 422, r.text
            assert "'program'" in r.text and "--allow-directive program" in r.text
            # Each refusal names the line of the SUBMITTED text, like every source-view error.
            submitted = text.splitlines()
            lines = {e["line"] for e in r.json()["errors"]}
            assert None not in lines, r.json()["errors"]
            assert {submitted[n - 1].split()[0] for n in lines} <= {"master-worker", "program"}
            assert submitted.index("    master-worker") + 1 in lines
        # 2. any file over HTTP, through a spec extra line.
        leak = dict(data, frontends=[dict(data["frontends"][0], extra=[
            "http-request return status 200 content-type text/plain file /etc/shadow "
            "if { path /leak }"])])
        r = _put(agent, leak)
        assert r.status_code == 422 and "frontends[0].extra[0]" in r.text, r.text
        # 3. lua-load in a dry run (validate) and in a sections entry.
        lua_spec = dict(data, **{"global": dict(data["global"], extra=[f"lua-load {lua}"])})
        r = agent.api.post("/api/v1/config/validate", json=lua_spec)
        assert r.status_code == 422 and "global.extra[0]" in r.text and "lua-load" in r.text
        sections = dict(data, sections=[{"kind": "listen", "name": "l", "lines": [
            "bind 127.0.0.1:1", f"errorfile 503 {short_dir}/st/files/../token"]}])
        r = _put(agent, sections)
        assert r.status_code == 422 and "sections[0].lines[1]" in r.text, r.text
        assert not marker.exists() and not pwned.exists()
        _unchanged(agent, live, reloads)
        assert agent.controller.version == version


def test_rollback_of_an_old_version_is_refused(short_dir: Path, haproxy_bin: str) -> None:
    data = make_spec(free_port(), free_port(), [("s1", free_port())])
    with running_agent(short_dir / "st", data, haproxy_bin) as agent:
        strict = agent.controller.files.policy
        # A version stored "before the policy existed": applied with everything allowed.
        agent.controller.files.policy = dataclasses.replace(strict, file_roots=(Path("/"),))
        outside = short_dir / "outside.http"
        outside.write_bytes(b"HTTP/1.0 503 Busy\r\nContent-Type: text/plain\r\n\r\nbusy\n")
        old = dict(data, backends=[dict(data["backends"][0], extra=[f"errorfile 503 {outside}"])])
        assert _put(agent, old).status_code == 200
        bad = agent.controller.version
        agent.controller.files.policy = strict
        assert _put(agent, data).status_code == 200
        live = agent.state.read_config()
        reloads = agent.controller.status()["haproxy"].get("reloads", 0)
        r = agent.api.post(f"/api/v1/config/versions/{bad}/rollback",
                           headers={"If-Match": f'"{agent.controller.version}"'})
        assert r.status_code == 422 and "backends[0].extra[0]" in r.text, r.text
        assert live is not None
        _unchanged(agent, live, reloads)


@pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop needs root")
def test_worker_runs_unprivileged(short_dir: Path, haproxy_bin: str) -> None:
    from lbctl.haproxy.privileges import drop_to

    wanted = drop_to()
    assert wanted is not None
    data = make_spec(free_port(), free_port(), [("s1", free_port())])
    with running_agent(short_dir / "st", data, haproxy_bin) as agent:
        live = agent.state.read_config()
        assert live is not None and f"    user {wanted[0]}\n".encode() in live
        import psutil

        status = agent.controller.status()["haproxy"]
        master = psutil.Process(status["master_pid"])
        workers = master.children()
        assert workers
        import pwd

        uid = pwd.getpwnam(wanted[0]).pw_uid
        for w in workers:
            fields = Path(f"/proc/{w.pid}/status").read_text()
            line = next(ln for ln in fields.splitlines() if ln.startswith("Uid:"))
            assert int(line.split()[1]) == uid
        r = agent.through_haproxy("/x")
        assert r.status_code in (200, 503)
        # The master stays root: reloads re-read the config and the Lua script, rebind the
        # stats socket; the agent still drives the runtime API and the new workers drop too.
        assert os.stat(agent.controller.render_target()[1].stats_socket).st_uid == 0
        assert int(agent.controller.core.runtime().show_info()["Pid"]) in {w.pid for w in workers}
        r = agent.api.post("/api/v1/haproxy/reload")
        assert r.status_code == 200 and r.json()["ok"], r.text
        wait_for(lambda: {w.pid for w in master.children()} - {w.pid for w in workers}, 10)
        for pid in _worker_pids(master.pid):
            line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                        if ln.startswith("Uid:"))
            assert int(line.split()[1]) == uid
        assert agent.controller.core.runtime().show_info()["Pid"]
        assert agent.through_haproxy("/x").status_code in (200, 503)


# -- the operator's options, metrics, the policy report, audit, the environment ----------------
@pytest.fixture
def pids() -> Iterator[list[int]]:
    """Pids to kill (with their children) at teardown when a test stopped half-way."""
    import psutil

    out: list[int] = []
    yield out
    for pid in out:
        try:
            proc = psutil.Process(pid)
            for child in proc.children(recursive=True):
                child.kill()
            proc.kill()
        except psutil.Error:
            pass


def _worker_pids(master: int) -> list[int]:
    import psutil

    return [c.pid for c in psutil.Process(master).children()]


def test_serve_host_options(short_dir: Path, tmp_path: Path, pids: list[int],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.agent_helpers import seed_state
    from tests.test_cli_serve import Serve

    allowed = short_dir / "certs"
    allowed.mkdir()
    page = allowed / "busy.http"
    page.write_bytes(b"HTTP/1.0 503 Busy\r\nContent-Type: text/plain\r\n\r\nbusy\n")
    (allowed / "out.http").symlink_to("/etc/hostname")
    data = make_spec(free_port(), free_port(), [("s1", free_port())])
    state = short_dir / "st"
    seed_state(state, data)
    monkeypatch.setenv("LBCTL_ALLOW_DIRECTIVES", "setenv")
    extra = ["--allow-path", str(allowed), "--allow-directive", "lua-load",
             "--allow-directive", "program"]
    if os.geteuid() == 0:
        extra += ["--haproxy-user", "nobody"]
    serve = Serve(state, free_port(), tmp_path / "serve.log", *extra)
    pids.append(serve.proc.pid)
    headers = {"Authorization": f"Bearer {(state / 'token').read_text().strip()}"}
    status = httpx.get(serve.url + "/api/v1/haproxy", headers=headers).json()
    pids.append(status["haproxy"]["master_pid"])
    policy = status["policy"]
    assert str(allowed) in policy["file_roots"] and str(allowed) in policy["socket_roots"]
    assert policy["allowed_directives"] == ["lua-load", "program", "setenv"]
    assert "lua-load" not in policy["refused_directives"]
    assert "master-worker" in policy["refused_directives"]
    if os.geteuid() == 0:
        import pwd

        assert (policy["haproxy_user"], policy["haproxy_group"])[0] == "nobody"
        uid = pwd.getpwnam("nobody").pw_uid
        for pid in _worker_pids(status["haproxy"]["master_pid"]):
            line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                        if ln.startswith("Uid:"))
            assert int(line.split()[1]) == uid
    # An errorfile under the allowed dir is accepted; the same dir's symlink out is not.
    version = status["spec_version"]
    ok = dict(data, backends=[dict(data["backends"][0], extra=[f"errorfile 503 {page}"])])
    r = httpx.put(serve.url + "/api/v1/config", json=ok,
                  headers={**headers, "If-Match": f'"{version}"'}, timeout=60)
    assert r.status_code == 200, r.text
    out = dict(data, backends=[dict(data["backends"][0], extra=[
        f"errorfile 503 {allowed}/out.http"])])
    r = httpx.post(serve.url + "/api/v1/config/validate", json=out, headers=headers, timeout=60)
    assert r.status_code == 422 and "backends[0].extra[0]" in r.text, r.text
    assert r.json()["errors"][0]["directive"] == "errorfile path"
    assert serve.stop(signal.SIGTERM) == 0


@pytest.mark.parametrize("args, said", [
    (["--allow-directive", "lua-lod"], "unknown directive"),
    (["--allow-path", "relative/dir"], "absolute directory"),
    (["--haproxy-user", "no-such-user-lbctl"], "no user"),
])
def test_serve_refuses_bad_host_options(short_dir: Path, args: list[str], said: str) -> None:
    import subprocess
    import sys

    if args[0] == "--haproxy-user" and os.geteuid() != 0:
        pytest.skip("--haproxy-user is only checked as root")
    proc = subprocess.run(
        [sys.executable, "-m", "lbctl.cli", "serve", "--state-dir", str(short_dir / "st"),
         "--listen", f"127.0.0.1:{free_port()}", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, "LBCTL_TOKEN": "t"})
    assert proc.returncode != 0 and said in proc.stdout + proc.stderr, proc.stderr
    assert not (short_dir / "st" / "haproxy.cfg").exists()


def _policy_errors(agent: Any) -> float:
    text = agent.api.get("/metrics").text
    line = next(ln for ln in text.splitlines()
                if ln.startswith('lbctl_validation_errors_total{stage="policy"}'))
    return float(line.split()[-1])


def test_policy_refusals_are_counted_audited_and_reported(
        short_dir: Path, haproxy_bin: str, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    data = make_spec(free_port(), free_port(), [("s1", free_port())])
    lua, marker = _marker_lua(short_dir)
    bad = dict(data, **{"global": dict(data["global"], extra=[f"lua-load {lua}"])})
    with running_agent(short_dir / "st", data, haproxy_bin) as agent:
        assert _policy_errors(agent) == 0
        policy = agent.api.get("/api/v1/haproxy").json()["policy"]
        assert policy == agent.controller.policy.describe()
        assert "lua-load" in policy["refused_directives"]
        assert str(agent.state.root / "files") in policy["file_roots"]
        live = agent.state.read_config()
        reloads = agent.controller.status()["haproxy"].get("reloads", 0)
        with caplog.at_level(logging.INFO, logger="lbctl.audit"):
            r = agent.api.post("/api/v1/config/validate", json=bad)
            assert r.status_code == 422, r.text
            r = agent.api.post("/api/v1/config/plan", json=bad)
            assert r.status_code == 422 and "global.extra[0]" in r.text, r.text
            assert live is not None
            source = live.decode().replace("global\n", f"global\n    lua-load {lua}\n", 1)
            r = agent.api.post("/api/v1/config/plan", content=source,
                               headers={"Content-Type": "text/plain"})
            assert r.status_code == 422 and "lua-load" in r.text, r.text
            r = agent.api.put("/api/v1/config/source", content=source,
                              params={"dry_run": "true"},
                              headers={"Content-Type": "text/plain"})
            assert r.status_code == 422, r.text
            assert _put(agent, bad).status_code == 422
        assert _policy_errors(agent) == 5
        lines = [rec.audit for rec in caplog.records if hasattr(rec, "audit")]
        dry = [ln for ln in lines if ln["what"] in ("validate", "plan")]
        assert [ln["what"] for ln in dry] == ["validate", "plan", "plan", "validate"]
        for ln in dry:
            assert ln["who"] == "admin" and ln["result"] == "invalid"
            assert "lua-load" in ln["target"] and "PolicyRefused" in ln["error"]
        assert dry[0]["target"] == "lua-load at global.extra[0]"
        applied = [ln for ln in lines if ln["what"] == "apply"]
        assert applied and "lua-load" in applied[-1]["error"]
        assert "global.extra[0]" in applied[-1]["error"]
        assert not marker.exists()
        _unchanged(agent, live, reloads)


def test_haproxy_never_sees_the_agent_environment(
        short_dir: Path, haproxy_bin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "lbctl-secret-token-0123456789"
    monkeypatch.setenv("LBCTL_TOKEN", secret)
    monkeypatch.setenv("LBCTL_SOMETHING", secret)
    data = make_spec(free_port(), free_port(), [("s1", free_port())])
    front = dict(data["frontends"][0], extra=[
        'http-request return status 200 content-type text/plain lf-string '
        '"tok=%[env(LBCTL_TOKEN)]" if { path /tok }'])
    data = dict(data, frontends=[front])
    with running_agent(short_dir / "st", data, haproxy_bin) as agent:
        status = agent.controller.status()["haproxy"]
        procs = [status["master_pid"], *_worker_pids(status["master_pid"])]
        assert len(procs) > 1
        for pid in procs:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert secret.encode() not in environ and b"LBCTL_" not in environ
            assert b"LC_ALL=C" in environ
        r = agent.through_haproxy("/tok")
        assert r.status_code == 200 and r.text == "tok=", r.text
