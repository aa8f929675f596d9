"""The README's tour, run as written: every fenced ``console`` and ``sh`` block from "A
five-minute tour" on, in the README's order, in an empty directory, against a live agent.

What the README says it substitutes, and nothing else: `/home/me/lbctl` stands for the
directory; tokens, pids, times (decimal numbers) and the counts of a burst differ; `...` in an
output stands for lines or text left out. The "Two commands" block before the tour is the setup
(a venv with lbctl installed: this test's own). The agent is ``lbctl serve`` run as the first
block says (in the background, as a second terminal would); the stand-in backend is the
command the README gives for that terminal.

Each command runs in one bash session (variables carry over, as in a terminal) and must exit
0; each output line shown must appear, in order, in what it printed (the key fields: versions,
statuses, errors, plan lines). The story's fixed ports (9900, 11223, 11224, 17010) must be free:
a lock file keeps two runs of this test apart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
PORTS = (9900, 11223, 11224, 17010)
LOCK = Path(tempfile.gettempdir()) / "lbctl-story-ports.lock"
#: The directory the README's outputs show.
README_DIR = "/home/me/lbctl"
GAP = "..."


@dataclass
class Command:
    """One command of a block (continuation lines joined) and the output lines shown."""

    text: str
    expected: list[str] = field(default_factory=list)


def tour_blocks(text: str) -> list[tuple[str, list[str]]]:
    """``(lang, lines)`` of every ``console``/``sh`` block from the tour heading on."""
    start = text.index("## A five-minute tour")
    blocks = re.findall(r"^```(console|sh)\n(.*?)^```$", text[start:], re.S | re.M)
    return [(lang, body.splitlines()) for lang, body in blocks]


def commands(lang: str, lines: list[str]) -> list[Command]:
    """A block's commands: ``$ `` lines (and their ``\\`` continuations) with the output
    below them for ``console``; every line for ``sh`` (no output shown)."""
    out: list[Command] = []
    pending: list[str] = []
    for line in lines:
        if pending:
            pending.append(line)
        elif lang == "sh":
            pending = [line]
        elif line.startswith("$ "):
            pending = [line[2:]]
        elif out:
            out[-1].expected.append(line)
            continue
        if not pending[-1].endswith("\\"):
            out.append(Command("\n".join(pending)))
            pending = []
    return [c for c in out if c.text.strip()]


def _pattern(line: str, where: Path) -> re.Pattern[str]:
    """The regex an output line of the README stands for (the module docstring's rules)."""
    count = re.fullmatch(r"\s*\d+ (\d{3})", line)  # `sort | uniq -c` of a burst: counts vary
    if count:
        return re.compile(rf"\s*\d+ {count.group(1)}")
    chart = re.fullmatch(r"\s*(client\d)\s+[█▆▇▅▄▃▂▁ ]+\s(peak \d+ per 250 ms)", line)
    if chart:  # the demo's chart of arrivals: its bars and peaks vary
        return re.compile(rf"\s*{chart.group(1)}\s+[█▆▇▅▄▃▂▁ ]+\speak \d+ per 250 ms")
    p = re.escape(line).replace(re.escape(GAP), ".*")
    p = p.replace(re.escape(README_DIR), re.escape(str(where)))
    p = re.sub(r"\d+\\\.\d+", r"\\d+(?:\\.\\d+)?", p)             # times
    p = re.sub(r"master\\ pid\\ \d+", r"master\\ pid\\ \\d+", p)  # pids
    if re.fullmatch(r"\s+[A-Za-z0-9_-]{40,}", line):                 # the token printed once
        p = r"\s+[A-Za-z0-9_-]{40,}"
    if " × " in line or " ms" in line or "at most" in line:  # the demo's counts and latencies
        p = re.sub(r"(?<![\w\\])\d+(?!\w)", r"\\d+", p)
    return re.compile(p)


def missing_lines(expected: list[str], printed: str, where: Path) -> list[str]:
    """The expected lines (but ``...``) not found in order in ``printed``."""
    lines = printed.splitlines()
    at, missing = 0, []
    for want in expected:
        if want.strip() == GAP:
            continue
        rx = _pattern(want, where)
        for i in range(at, len(lines)):
            if rx.fullmatch(lines[i]):
                at = i + 1
                break
        else:
            missing.append(want)
    return missing


def _free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind (TIME-WAIT)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def story_ports() -> Iterator[None]:
    """The story's fixed ports, held for this test (a lock file; 120 s at most to wait)."""
    with LOCK.open("w") as fh:
        deadline = time.monotonic() + 120
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "another tour run holds the story's ports"
                time.sleep(0.5)
        taken = [p for p in PORTS if not _free(p)]
        assert not taken, f"the story's ports {taken} are taken on this host"
        yield


def _kill_tree(pid: int) -> None:
    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return
    for child in proc.children(recursive=True):
        child.kill()
    proc.kill()


def _kill_haproxy_of(state: Path) -> None:
    """Kill the HAProxy master (and workers) of ``state`` if one is left (its pidfile's pids,
    checked to be HAProxy running that state dir's config): HAProxy daemonizes (``-D``), so
    it is no child of the agent."""
    try:
        pids = [int(w) for w in (state / "haproxy.pid").read_text().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if str(state / "haproxy.cfg") in proc.cmdline():
                _kill_tree(pid)
        except psutil.Error:
            continue


def test_the_readme_tour_runs_as_written(story_ports: None) -> None:
    text = README.read_text(encoding="utf-8")
    blocks = tour_blocks(text)
    assert blocks and blocks[0][0] == "console" and blocks[0][1][0] == "$ lbctl serve"
    backend_cmd = re.search(r"`[^`]*?(python -m lbctl\.demo\.backend --port 17010) &`", text)
    assert backend_cmd, "the README names the stand-in backend's command"
    where = Path(tempfile.mkdtemp(prefix="lbtour", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LBCTL_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    serve_log = where.parent / f"{where.name}.serve.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with serve_log.open("wb") as err:
            agent = subprocess.Popen(["lbctl", "serve"], cwd=where, env=env, stderr=err,
                                     stdout=subprocess.DEVNULL)
        procs.append(agent)
        backend = subprocess.Popen(backend_cmd.group(1).split(), cwd=where, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(backend)
        deadline = time.monotonic() + 30
        while "lbctl agent on" not in serve_log.read_text():
            assert agent.poll() is None and time.monotonic() < deadline, serve_log.read_text()
            time.sleep(0.1)
        first = commands(*blocks[0])[0]
        assert missing_lines(first.expected, serve_log.read_text(), where) == [], \
            serve_log.read_text()
        deadline = time.monotonic() + 20  # the backend up and HAProxy's check seeing it
        while httpx.get("http://127.0.0.1:9900/healthz", timeout=2).status_code != 200 or \
                subprocess.run(["lbctl", "health"], cwd=where, env=env,
                               capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "the story did not become healthy"
            time.sleep(0.2)

        steps = [c for lang, lines in blocks[1:] for c in commands(lang, lines)]
        script = ["set +e", "exec 2>&1"]  # a terminal shows both
        for i, step in enumerate(steps):
            script += [f"printf '\\n@@BEGIN {i}\\n'", step.text, f"printf '\\n@@END {i} %s\\n' $?"]
        started = time.monotonic()
        run = subprocess.run(["bash", "-c", "\n".join(script)], cwd=where, env=env,
                             capture_output=True, text=True, timeout=300)
        took = time.monotonic() - started
        printed = run.stdout
        failures = []
        for i, step in enumerate(steps):
            m = re.search(rf"^@@BEGIN {i}\n(.*?)^@@END {i} (\d+)$", run.stdout, re.S | re.M)
            if m is None:
                failures.append(f"{step.text!r}: did not run\n{printed[-2000:]}")
                continue
            output, code = m.group(1), int(m.group(2))
            if code != 0:
                failures.append(f"{step.text!r} exited {code}:\n{output}")
            missing = missing_lines(step.expected, output, where)
            if missing:
                failures.append(f"{step.text!r}: missing {missing} in:\n{output}")
        assert not failures, "\n\n".join(failures)
        print(f"\nREADME tour: {len(steps) + 1} commands in {len(blocks)} blocks, {took:.1f} s")
        # "Ctrl-C stops the agent and HAProxy".
        master = httpx.get("http://127.0.0.1:9900/api/v1/haproxy", timeout=5, headers={
            "Authorization": f"Bearer {(where / '.lbctl' / 'token').read_text().strip()}"
        }).json()["haproxy"]["master_pid"]
        agent.send_signal(signal.SIGINT)
        assert agent.wait(timeout=30) == 0
        assert not psutil.pid_exists(master) or \
            psutil.Process(master).status() == psutil.STATUS_ZOMBIE
    finally:
        for proc in procs:  # the agent first, politely: it soft-stops HAProxy
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=20)
            _kill_tree(proc.pid)
            proc.wait(timeout=10)
        _kill_haproxy_of(where / ".lbctl")
        shutil.rmtree(where, ignore_errors=True)
        serve_log.unlink(missing_ok=True)


def test_the_parser_of_blocks() -> None:
    lang_lines = ("console", ["$ a \\", "    b", "out 1", "...", "$ c", "$ d"])
    got = commands(*lang_lines)
    assert [(c.text, c.expected) for c in got] == [("a \\\n    b", ["out 1", "..."]),
                                                    ("c", []), ("d", [])]
    assert missing_lines(["x 0.5 s", GAP, "   12 200"], "x 1.25 s\nnoise\n    3 200",
                         Path("/w")) == []
    assert missing_lines(["version 2"], "version 3", Path("/w")) == ["version 2"]
