"""Which processes lbctl may signal: verified HAProxy pids only (DESIGN.md safety rules).

A pid from a pidfile, a ``show proc`` answer or a child list is used only when the process is
alive (a zombie counts as dead), its executable (``/proc/PID/exe``) is lbctl's HAProxy binary or
a file named ``haproxy``, and its command line names this instance's config file. A stale
pidfile pointing at an unrelated process (a ``sleep`` that got the pid) therefore never
reaches ``kill``. Used by :mod:`lbctl.haproxy.process`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil

__all__ = ["alive", "verified", "verified_master"]


def alive(proc: psutil.Process) -> bool:
    """True while ``proc`` runs and is not a zombie (PID 1 may never reap it)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def verified(pid: int, binary_path: str, config_path: Path) -> psutil.Process | None:
    """The process ``pid`` when it is a live HAProxy (``binary_path``, or an executable named
    ``haproxy``) whose command line names ``config_path``; else ``None``. Never this process
    nor pid 0/1. Never raises."""
    if pid <= 1 or pid == os.getpid():
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        exe = os.path.realpath(proc.exe())
        cmdline = proc.cmdline()
    except (psutil.Error, OSError):
        return None
    if exe != os.path.realpath(binary_path) and os.path.basename(exe) != "haproxy":
        return None
    wanted = {str(config_path), os.path.realpath(config_path)}
    return proc if wanted & set(cmdline) else None


def verified_master(pid: int, binary_path: str, config_path: Path) -> psutil.Process | None:
    """Like :func:`verified`, and its parent is not itself a verified HAProxy of the same
    config (that would make it a worker). Never raises."""
    proc = verified(pid, binary_path, config_path)
    if proc is None:
        return None
    with contextlib.suppress(psutil.Error):
        if verified(proc.ppid(), binary_path, config_path) is not None:
            return None  # a worker
    return proc
