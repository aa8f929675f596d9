"""``haproxy -c``: check a configuration file and turn HAProxy's messages into diagnostics.

``-c`` parses the configuration, resolves references and exits: 0 when valid (warnings
allowed), non-zero when not (management.txt §3 "Command line"). Messages go to stderr as::

    [ALERT]    (1234) : config : parsing [x.cfg:3] : unknown keyword 'foo' in 'global' section
    [ALERT]    (1234) : config : Proxy 'f': unable to find required default_backend: 'nope'.
    [ALERT]    (1234) : config : [x.cfg:11] : 'server b/s1' : unable to find required proxy ...
    [WARNING]  (1234) : config : missing timeouts for frontend 'f'.
       | While not properly invalid, you will certainly encounter various problems
    [ALERT] 123/045612 (1234) : parsing [x.cfg:3] : unknown keyword 'foo' ...      (HAProxy < 2.4)

``haproxy -c`` is not a sandbox: ``lua-load`` runs code. Never feed it untrusted text (the
host policy, :mod:`lbctl.spec.policy`, screens every text first). It runs in the config's
folder, with a timeout and a minimal environment (:func:`lbctl.haproxy.environment.minimal_env`:
nothing ``LBCTL_*``, no token).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lbctl.errors import BinaryNotFound, ConfigRejected, Diagnostic, StoreError
from lbctl.haproxy.binary import HAProxyBinary
from lbctl.haproxy.environment import minimal_env

__all__ = ["check_file", "check_text", "parse_output"]

_MSG_RE = re.compile(r"^\[(?P<sev>ALERT|WARNING|NOTICE)\]\s*(?:\d+/\d+\s*)?(?:\(\d+\)\s*)?:\s?(?P<msg>.*)$")
_CONT_RE = re.compile(r"^\s+\|\s?(?P<msg>.*)$")
_LEADING_LOC_RE = re.compile(r"^(?:parsing\s+)?\[(?P<file>[^\]]+?):(?P<line>\d+)\]\s*:?\s*")
_ANY_LOC_RE = re.compile(r"\[(?P<file>[^\]\s]+?):(?P<line>\d+)\]")
_BOILERPLATE = (
    "haproxy version is ",
    "path to executable is ",
    "Error(s) found in configuration file",
    "Fatal errors found in configuration",
)


def _same_file(name: str, cwd: Path, checked: Path) -> bool:
    try:
        return (cwd / name).resolve() == checked.resolve()
    except OSError:
        return False


def parse_output(output: str, checked: Path, cwd: Path) -> list[Diagnostic]:
    """Parse ``[ALERT]``/``[WARNING]``/``[NOTICE]`` lines of HAProxy output into diagnostics.

    The ``[SEVERITY] (pid) :`` prefix, a ``config :`` prefix and a leading
    ``parsing [file:N] :`` / ``[file:N] :`` are stripped from the message; ``|`` continuation
    lines are joined to their message with spaces. ``line`` and ``text`` are set when the
    message names a line of ``checked`` (a file name relative to ``cwd``). HAProxy's
    boilerplate (version / executable notices, the closing "Fatal errors found" alerts) is
    dropped.
    """
    try:
        lines = checked.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    found: list[tuple[str, str]] = []
    for raw in output.splitlines():
        match = _MSG_RE.match(raw)
        if match is not None:
            found.append((match["sev"].lower(), match["msg"].strip()))
            continue
        cont = _CONT_RE.match(raw)
        if cont is not None and found:
            sev, msg = found[-1]
            found[-1] = (sev, f"{msg} {cont['msg'].strip()}".strip())
    result: list[Diagnostic] = []
    for severity, full in found:
        msg = full.removeprefix("config :").strip()
        if msg.startswith(_BOILERPLATE):
            continue
        line: int | None = None
        leading = _LEADING_LOC_RE.match(msg)
        if leading is not None and _same_file(leading["file"], cwd, checked):
            line = int(leading["line"])
            msg = msg[leading.end() :]
        else:
            for loc in _ANY_LOC_RE.finditer(msg):
                if _same_file(loc["file"], cwd, checked):
                    line = int(loc["line"])
                    break
        text = lines[line - 1].rstrip() if line is not None and 0 < line <= len(lines) else None
        result.append(Diagnostic(severity=severity, message=msg, line=line, text=text))
    return result


def check_file(
    binary: HAProxyBinary,
    path: Path,
    *,
    extra_args: Sequence[str] = (),
    timeout: float = 30.0,
    while_running: Callable[[], None] | None = None,
) -> list[Diagnostic]:
    """Run ``haproxy -c -f PATH [extra_args]`` with the working directory set to PATH's folder.

    Returns the warnings and notices (possibly empty) when the configuration is valid.
    ``timeout`` is in seconds, from the start of the process. ``while_running``, when given, is
    called once the process runs, before waiting for it: work of the caller's that fits
    in the check's time (an apply serialises its spec there; ``haproxy -c`` of 80,000 lines
    takes most of a second on another core). If it raises, the check is killed and the
    exception propagates. Raises ``ConfigRejected(diagnostics, output)`` when HAProxy exits
    non-zero (with a synthetic alert carrying the last output line when no ``[ALERT]`` line
    could be parsed) or does not finish within ``timeout``; ``BinaryNotFound`` when the binary
    cannot be executed.
    """
    path = Path(path).absolute()
    cwd = path.parent
    argv = [binary.path, "-c", "-f", path.name, *extra_args]
    deadline = time.monotonic() + timeout
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=minimal_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace")
    except OSError as exc:
        raise BinaryNotFound(f"cannot run {binary.path}: {exc}") from exc
    with proc:
        try:
            if while_running is not None:
                while_running()
            # A check that ended while the caller worked is read whole, late or not.
            left = None if proc.poll() is not None else max(0.0, deadline - time.monotonic())
            stdout, stderr = proc.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            alert = Diagnostic("alert", f"haproxy -c timed out after {timeout:g} s")
            raise ConfigRejected([alert], _text(stdout) + _text(stderr)) from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    output = stderr + stdout
    diagnostics = parse_output(output, path, cwd)
    if proc.returncode != 0:
        if not any(d.severity == "alert" for d in diagnostics):
            tail = [ln.strip() for ln in output.splitlines() if ln.strip()]
            last = tail[-1] if tail else f"haproxy -c exited with status {proc.returncode}"
            diagnostics.append(Diagnostic("alert", last))
        raise ConfigRejected(diagnostics, output)
    return diagnostics


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def check_text(
    binary: HAProxyBinary,
    text: str,
    *,
    directory: Path,
    extra_args: Sequence[str] = (),
    timeout: float = 30.0,
) -> list[Diagnostic]:
    """Check ``text`` exactly as it would be deployed (UTF-8 bytes, no newline translation).

    The text is written to ``directory/.check-XXXX.cfg`` (same folder as the live file, so
    relative paths resolve the same), checked with :func:`check_file`, and always deleted.
    Same return value and errors as :func:`check_file`, plus ``StoreError`` when the temporary
    file cannot be written.
    """
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=".check-", suffix=".cfg")
    except OSError as exc:
        raise StoreError(f"cannot create a temporary config in {directory}: {exc}") from exc
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
        except OSError as exc:
            raise StoreError(f"cannot write the temporary config {name}: {exc}") from exc
        return check_file(binary, Path(name), extra_args=extra_args, timeout=timeout)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
