"""A crash *at* the swap of the live file (issue 16, surviving mutant 1).

A small Python process does a real :meth:`StateDir.atomic_write` of a large new live file (a
temp file, its fsync, :meth:`StateDir.commit`) and is SIGKILLed by ``strace`` at a chosen
system call (``-e inject=SYSCALL:signal=KILL:when=N``: the kill is delivered on entry, so that
call never runs). A first run without a fault lists the calls that name the live path or a
descriptor open on it (``-y``); the sweep then kills the writer once before each of them in
turn — every state a crash can leave the live path in — and checks from the trace that it
died at that very call. Each time the live path must hold wholly the old bytes or wholly the
new ones, and :meth:`StateDir.ensure` must clear the temp file left behind.

A SIGKILL cannot show a missing fsync (the page cache survives a process crash), so the
durability half is checked on the traced order of the calls: the temp file's fsync comes
before the rename over the live file, and the directory's fsync after it. An apply's swap
(:meth:`LiveFile.install`, with a real ``haproxy -c``) keeps that order with its fsync moved
into the check's time: ``haproxy -c`` starts, the temp file is fsynced, then renamed.

Every process is stopped by pid in the ``writers`` fixture (``strace`` and the traced writer,
whose pid it records first thing).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from lbctl.state.store import TEMP_PREFIX, StateDir

REPO = Path(__file__).resolve().parent.parent
STRACE = shutil.which("strace")
SIZE = 4 << 20  # bytes: a large file, written by the kernel in more than one page
OLD = b"".join(b"old line %07d\n" % i for i in range(SIZE // 17))
NEW = b"".join(b"NEW LINE %07d #\n" % i for i in range(SIZE // 18))

#: The writer: records its pid, then one real atomic write of ``source``'s bytes over the live
#: file of the state dir ``root`` (argv: root source pidfile).
WRITER = """
import os, sys
from pathlib import Path
from lbctl.state.store import StateDir
Path(sys.argv[3]).write_text(str(os.getpid()))
state = StateDir(sys.argv[1])
state.atomic_write(state.config_path, Path(sys.argv[2]).read_bytes())
"""

#: An apply's swap: :meth:`LiveFile.install` of ``source``'s text with a real ``haproxy -c``
#: (argv: root source pidfile haproxy).
INSTALLER = """
import os, sys
from pathlib import Path
from lbctl.haproxy.binary import inspect_binary
from lbctl.haproxy.validate import check_file
from lbctl.spec import validate_spec
from lbctl.state.livefile import LiveFile
from lbctl.state.store import StateDir
Path(sys.argv[3]).write_text(str(os.getpid()))
binary = inspect_binary(sys.argv[4])
files = LiveFile(StateDir(sys.argv[1]),
                 lambda path, while_running=None: check_file(binary, path,
                                                             while_running=while_running))
files.install(validate_spec({}), Path(sys.argv[2]).read_text())
"""
#: A config ``haproxy -c`` accepts on every version, with 256 KiB of comments to fsync.
VALID = ("global\n    maxconn 100\n" + "".join(f"# padding {i:07d}\n" for i in range(14_000))
         + "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n"
         "    timeout server 1s\n\nfrontend f\n    bind 127.0.0.1:9\n    default_backend b\n"
         "\nbackend b\n    server s1 127.0.0.1:9\n")

pytestmark = pytest.mark.skipif(STRACE is None and not os.environ.get("CI"),
                                reason="strace is not installed (apt-get install strace)")


@dataclass
class Writers:
    """Runs the writer under strace; remembers every pid so the fixture can stop them."""

    root: Path
    source: Path
    pidfile: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    def run(self, *strace_args: str, script: str = WRITER, args: tuple[str, ...] = ()
            ) -> tuple[int, str]:
        """The writer (``script``, argv: root source pidfile ``args``) under ``strace -f -qq
        -o <trace> <strace_args>``: (strace's exit status, the trace)."""
        assert STRACE is not None, "strace is required (apt-get install strace)"
        trace = self.root.parent / f"{self.root.name}.trace"
        self.pidfile.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.Popen(
            [STRACE, "-f", "-qq", "-o", str(trace), *strace_args, sys.executable, "-c", script,
             str(self.root), str(self.source), str(self.pidfile), *args],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self.procs.append(proc)
        _, err = proc.communicate(timeout=60)
        with contextlib.suppress(OSError, ValueError):
            self.pids.append(int(self.pidfile.read_text()))
        assert b"Traceback" not in err, err.decode()
        text = trace.read_text()
        trace.unlink()
        return proc.returncode, text

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        for pid in self.pids:  # the traced writer, if strace died before it
            with contextlib.suppress(psutil.Error):
                child = psutil.Process(pid)
                if {WRITER, INSTALLER} & set(child.cmdline()):
                    child.kill()


@pytest.fixture
def writers(short_dir: Path) -> Iterator[Writers]:
    root = short_dir / "state"
    state = StateDir(root)
    state.ensure()
    source = short_dir / "new.cfg"
    source.write_bytes(NEW)
    registry = Writers(root, source, short_dir / "writer.pid")
    yield registry
    registry.stop()


_CALL = re.compile(r"^\d+\s+(\w+)\((.*)$", re.M)  # "<pid> name(args) = result"


def _touching(trace: str, path: str) -> list[tuple[str, int, str]]:
    """The calls of a ``strace -f -y`` trace that name ``path`` or a descriptor open on it:
    ``(syscall, n, line)`` where the call is the n-th of that name (strace's ``when=n``)."""
    seen: dict[str, int] = {}
    found = []
    for m in _CALL.finditer(trace):
        name, rest = m.group(1), m.group(2)
        seen[name] = seen.get(name, 0) + 1
        if f'"{path}"' in rest or f"<{path}>" in rest:
            found.append((name, seen[name], m.group(0)))
    return found


def test_sigkill_at_every_call_touching_the_live_file_leaves_old_or_new(writers: Writers) -> None:
    state = StateDir(writers.root)
    live = str(state.config_path)
    state.atomic_write(state.config_path, OLD)

    code, trace = writers.run("-y")  # no fault: which calls touch the live path
    assert code == 0, trace
    assert state.config_path.read_bytes() == NEW
    points = _touching(trace, live)
    assert points, f"no call touched {live}:\n{trace}"

    outcomes = []
    for name, n, line in points:
        state.atomic_write(state.config_path, OLD)
        code, trace = writers.run("-y", "-e", f"inject={name}:signal=KILL:when={n}")
        assert code == -signal.SIGKILL, (line, code, trace)  # strace dies as its tracee did
        last = _CALL.findall(trace)[-1]
        assert last[0] == name and (f'"{live}"' in last[1] or f"<{live}>" in last[1]), (
            f"meant to kill at {line!r}, killed at {last}")
        data = state.config_path.read_bytes()
        assert data in (OLD, NEW), (
            f"SIGKILL at {line!r} left {len(data)} bytes at the live path, neither the old "
            f"{len(OLD)} nor the new {len(NEW)}")
        left = list(writers.root.glob(TEMP_PREFIX + "*"))
        state.ensure()  # what the agent does at start
        assert list(writers.root.glob(TEMP_PREFIX + "*")) == []
        assert state.config_path.read_bytes() == data  # ensure() never touches the live file
        outcomes.append((name, n, "old" if data == OLD else "new", len(left)))
    # Killed before the first call on the live path, nothing of it changed.
    assert outcomes[0][2] == "old", outcomes
    print(f"\nSIGKILL before each call on the live file (call, n, live path, temp files left): "
          f"{outcomes}")


def test_sigkill_at_the_temp_fsync_leaves_the_old_file(writers: Writers) -> None:
    state = StateDir(writers.root)
    state.atomic_write(state.config_path, OLD)
    code, trace = writers.run("-e", "inject=fsync:signal=KILL:when=1")
    assert code == -signal.SIGKILL, trace
    assert state.config_path.read_bytes() == OLD
    [temp] = writers.root.glob(TEMP_PREFIX + "*")  # the new bytes never reached the live path
    state.ensure()
    assert not temp.exists() and state.config_path.read_bytes() == OLD


def _the_swap(lines: list[str], root: str, live: str) -> tuple[int, str]:
    """The index of the one rename onto ``live`` among a trace's ``lines``, and the temp file
    (in the state dir ``root``) it renamed."""
    renames = [i for i, line in enumerate(lines)
               if re.search(r"\brename(at2?)?\(.*" + re.escape(f'"{live}"'), line)]
    trace = "\n".join(lines)
    assert len(renames) == 1, f"expected one rename onto {live}:\n{trace}"
    [at] = renames
    temp = re.search(r'"(' + re.escape(root) + r"/" + re.escape(TEMP_PREFIX) + r'[^"]*)"',
                     lines[at])
    assert temp, lines[at]
    return at, temp.group(1)


def test_temp_fsynced_before_the_rename_directory_after(writers: Writers) -> None:
    state = StateDir(writers.root)
    state.atomic_write(state.config_path, OLD)
    code, trace = writers.run("-y", "-e", "trace=openat,write,fsync,fdatasync,rename,renameat,"
                              "renameat2,unlink,unlinkat,close")
    assert code == 0, trace
    assert state.config_path.read_bytes() == NEW
    root, live = str(writers.root), str(state.config_path)
    lines = [line for line in trace.splitlines() if root in line]  # the state dir's calls
    trace = "\n".join(lines)
    at, temp = _the_swap(lines, root, live)
    temp_fsync = [i for i, line in enumerate(lines)
                  if re.search(r"\bf(data)?sync\(\d+<" + re.escape(temp) + r">\)", line)]
    dir_fsync = [i for i, line in enumerate(lines)
                 if re.search(r"\bfsync\(\d+<" + re.escape(root) + r">\)", line)]
    assert temp_fsync and temp_fsync[-1] < at, f"the temp file is not fsynced before the rename:\n{trace}"
    assert [i for i in dir_fsync if i > at], f"the directory is not fsynced after the rename:\n{trace}"
    # The live path itself is never opened for writing: only the rename reaches it.
    assert not [line for line in lines if f'"{live}"' in line and "O_WRONLY" in line], trace


def test_apply_fsyncs_the_temp_while_haproxy_checks_it(writers: Writers, haproxy_bin: str) -> None:
    """An apply's temp file is fsynced after ``haproxy -c`` started on it (the fsync overlaps
    the check) and before the rename: the rule's order is kept, the exact bytes are live."""
    state = StateDir(writers.root)
    state.atomic_write(state.config_path, OLD)
    writers.source.write_text(VALID)
    code, trace = writers.run("-y", "-e", "trace=execve,fsync,fdatasync,rename,renameat,"
                              "renameat2", script=INSTALLER, args=(haproxy_bin,))
    assert code == 0, trace
    assert state.config_path.read_bytes() == VALID.encode()
    root, live = str(writers.root), str(state.config_path)
    lines = trace.splitlines()
    checks = [i for i, line in enumerate(lines)
              if f'execve("{haproxy_bin}"' in line and '"-c"' in line]
    assert len(checks) == 1, f"expected one haproxy -c:\n{trace}"
    at, temp = _the_swap(lines, root, live)
    syncs = [i for i, line in enumerate(lines)
             if re.search(r"\bf(data)?sync\(\d+<" + re.escape(temp) + ">", line)]
    assert len(syncs) == 1, f"expected one fsync of the temp file:\n{trace}"
    assert checks[0] < syncs[0] < at, (
        f"expected haproxy -c, then the temp file's fsync, then the rename:\n{trace}")
    assert [i for i, line in enumerate(lines)
            if i > at and re.search(r"\bfsync\(\d+<" + re.escape(root) + ">", line)], (
        f"the directory is not fsynced after the rename:\n{trace}")
