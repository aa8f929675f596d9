"""Which pids lbctl may signal (:mod:`lbctl.haproxy.pids`), on real processes: a real HAProxy
master and worker (bundled 2.8, ``-W -db``), a copy of the binary under another name, a config
reached through a symlink, an unrelated process naming the config, a zombie, and pids 1 and 2
in a fresh PID namespace (where a container's HAProxy may well be pid 2).

Written against the survivors of ``tests/mutation/run_mutmut.py --module haproxy.pids``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import lbctl
from lbctl.haproxy.pids import alive, verified, verified_master

from .conftest import BINARIES, free_port
from .haproxy_helpers import wait_for

BUNDLED = BINARIES["2.8"]


def _config(directory: Path) -> Path:
    path = directory / "haproxy.cfg"
    path.write_text(f"global\n    maxconn 16\n\ndefaults\n    mode http\n    timeout connect 1s\n"
                    f"    timeout client 5s\n    timeout server 5s\n\nfrontend f\n"
                    f"    bind 127.0.0.1:{free_port()}\n    http-request return status 200\n")
    return path


class Running:
    """A foreground master-worker HAProxy (``binary -W -db -f config``), killed by pid."""

    def __init__(self, binary: str, config: Path) -> None:
        self.proc = subprocess.Popen([binary, "-W", "-db", "-f", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.master = self.proc.pid
        wait_for(lambda: psutil.Process(self.master).children(), 10)
        self.worker = psutil.Process(self.master).children()[0].pid

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        wait_for(lambda: not psutil.pid_exists(self.worker)
                 or psutil.Process(self.worker).status() == psutil.STATUS_ZOMBIE, 10)


@pytest.fixture
def haproxy(short_dir: Path) -> Iterator[tuple[Running, Path]]:
    assert BUNDLED is not None
    config = _config(short_dir)
    running = Running(BUNDLED, config)
    yield running, config
    running.stop()


def test_master_and_worker(haproxy: tuple[Running, Path]) -> None:
    running, config = haproxy
    assert BUNDLED is not None
    assert verified(running.master, BUNDLED, config) is not None
    assert verified(running.worker, BUNDLED, config) is not None
    master = verified_master(running.master, BUNDLED, config)
    assert master is not None and master.pid == running.master
    assert verified_master(running.worker, BUNDLED, config) is None  # its parent is the master
    assert verified(running.master, BUNDLED, config.with_name("other.cfg")) is None


def test_the_binary_under_another_name_is_known_by_its_path(short_dir: Path) -> None:
    """``/proc/PID/exe`` is the given binary though not named ``haproxy``: verified; given
    another binary path, it is not."""
    assert BUNDLED is not None
    renamed = short_dir / "hap28"
    shutil.copy2(BUNDLED, renamed)
    (short_dir / "lib").symlink_to(Path(BUNDLED).parent / "lib")  # its rpath: $ORIGIN/lib
    config = _config(short_dir)
    running = Running(str(renamed), config)
    try:
        assert verified(running.master, str(renamed), config) is not None
        assert verified_master(running.master, str(renamed), config) is not None
        assert verified(running.master, BUNDLED, config) is None
    finally:
        running.stop()


def test_an_executable_named_haproxy_is_accepted_for_any_binary_path(haproxy: tuple[Running, Path]) -> None:
    running, config = haproxy
    assert verified(running.master, "/nonexistent/haproxy-2.8", config) is not None


def test_a_config_named_through_a_symlink(short_dir: Path) -> None:
    """The config given as a path through a symlinked dir: the command line may name that path
    or its real path."""
    assert BUNDLED is not None
    real = short_dir / "real"
    real.mkdir()
    config = _config(real)
    (short_dir / "link").symlink_to(real)
    linked = short_dir / "link" / config.name
    running = Running(BUNDLED, linked)
    try:
        assert verified(running.master, BUNDLED, linked) is not None
        # Given the real path while the command line names the link: not this instance's.
        assert verified(running.master, BUNDLED, config) is None
    finally:
        running.stop()
    running = Running(BUNDLED, config)  # the command line names the real path, given the link
    try:
        assert verified(running.master, BUNDLED, linked) is not None
    finally:
        running.stop()


def test_an_unrelated_process_naming_the_config_is_refused(short_dir: Path) -> None:
    config = _config(short_dir)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(config)])
    try:
        assert BUNDLED is not None
        wait_for(lambda: str(config) in psutil.Process(proc.pid).cmdline(), 5)  # exec'd
        assert verified(proc.pid, BUNDLED, config) is None
        assert verified(proc.pid, sys.executable, config) is not None  # the same with its own binary
    finally:
        proc.kill()
        proc.wait(10)


def test_own_pid_is_never_verified() -> None:
    """This process, given its own binary and a word of its command line as the "config"."""
    me = psutil.Process()
    named = next(Path(a) for a in me.cmdline() if a and str(Path(a)) == a)
    assert verified(os.getpid(), me.exe(), named) is None


def test_alive_and_a_zombie() -> None:
    proc = subprocess.Popen(["true"])
    handle = psutil.Process(proc.pid)
    wait_for(lambda: handle.status() == psutil.STATUS_ZOMBIE, 5)  # exited, not reaped yet
    try:
        assert not alive(handle)
        assert verified(proc.pid, "/bin/true", Path("x")) is None
    finally:
        proc.wait(5)
    assert not alive(handle) and alive(psutil.Process())


#: Run as pid 1 of a fresh PID namespace: starts HAProxy (pid 2), then the checks in a child
#: (pid 3), so that neither pid 1 nor pid 2 is the checking process itself.
_IN_NAMESPACE = """
import subprocess, sys, time
import psutil
binary, config = sys.argv[1], sys.argv[2]
proc = subprocess.Popen([binary, "-W", "-db", "-f", config],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 10
while not psutil.Process(proc.pid).children() and time.monotonic() < deadline:
    time.sleep(0.05)
check = subprocess.run([sys.executable, "-c", CHECK, binary, config], capture_output=True, text=True)
proc.kill()
proc.wait()
sys.stdout.write(check.stdout)
sys.stderr.write(check.stderr)
sys.exit(check.returncode)
"""

_CHECK = """
import json, os, sys
from pathlib import Path
import psutil
from lbctl.haproxy.pids import verified, verified_master
binary, config = sys.argv[1], Path(sys.argv[2])
init = psutil.Process(1)  # the script above: its command line names the config too
print(json.dumps({
    "me": os.getpid(),
    "pid1": verified(1, init.exe(), config) is not None,
    "pid2": verified(2, binary, config) is not None,
    "pid2_master": verified_master(2, binary, config) is not None,
}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="a PID namespace (unshare --pid) needs root")
def test_pid_1_never_pid_2_may_be_haproxy(short_dir: Path) -> None:
    """In a fresh PID namespace a script is pid 1 and the HAProxy it starts pid 2: pid 1 is
    never verified (even though its command line names the config and its binary is given),
    pid 2 is, as a master."""
    assert BUNDLED is not None
    assert verified(1, BUNDLED, short_dir / "haproxy.cfg") is None  # here too (this host's init)
    config = _config(short_dir)
    script = short_dir / "ns.py"
    script.write_text(_IN_NAMESPACE.replace("CHECK", repr(_CHECK), 1))
    env = {**os.environ, "PYTHONPATH": str(Path(lbctl.__file__).resolve().parents[1])}
    started = time.monotonic()
    done = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(script),
                           BUNDLED, str(config)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got.pop("me") > 2 and got == {"pid1": False, "pid2": True, "pid2_master": True}, got
    assert time.monotonic() - started < 60
