"""Who HAProxy's workers run as: the privilege drop lbctl renders into ``global``.

HAProxy started as root binds its listeners (privileged ports too), reads its files and opens
its sockets first, then the workers ``setuid``/``setgid`` to ``user``/``group``
(configuration.txt §3.1, ``user`` and ``group``); the master stays root to re-execute itself
on reloads. lbctl sets the two itself (the host policy refuses them in a spec,
:mod:`lbctl.spec.policy`): when the agent runs as root, ``haproxy`` if that user exists, else
``nobody`` (group ``nogroup``, or ``nobody``'s own group), or the user ``lbctl serve
--haproxy-user`` names. When the agent is not root nothing is rendered (HAProxy could not
change users anyway).

A worker that dropped privileges cannot enter the agent's 0700 state dir, so the UNIX sockets
it must connect to (the chained throttle's: socket files, since 1.5's ``-sf`` cannot rebind an
abstract socket and 1.8.0's ``-x`` does not pass one on) live in :func:`socket_dir`, which
:func:`prepare_socket_dir` makes ``root:<group>`` mode 0750.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import os
import pwd
import stat
from pathlib import Path

__all__ = ["SOCKET_ROOT", "drop_to", "prepare_socket_dir", "remove_socket_dir", "socket_dir"]

#: Where :func:`socket_dir` puts the sockets workers must reach (root-owned, like ``/run``).
SOCKET_ROOT = Path("/run/lbctl")


def _group_of(user: pwd.struct_passwd, preferred: tuple[str, ...]) -> str:
    for name in preferred:
        try:
            grp.getgrnam(name)
            return name
        except KeyError:
            continue
    try:
        return grp.getgrgid(user.pw_gid).gr_name
    except KeyError:
        return str(user.pw_gid)


def drop_to(explicit: str | None = None, *, euid: int | None = None) -> tuple[str, str] | None:
    """``(user, group)`` HAProxy should drop to, or ``None`` when the agent is not root
    (``euid``: the effective uid, :func:`os.geteuid` by default). Raises :class:`ValueError`
    when ``explicit`` names no user of this host."""
    if (os.geteuid() if euid is None else euid) != 0:
        return None
    if explicit:
        try:
            user = pwd.getpwnam(explicit)
        except KeyError:
            raise ValueError(f"--haproxy-user: no user {explicit!r} on this host") from None
        return user.pw_name, _group_of(user, (explicit,))
    for name, groups in (("haproxy", ("haproxy",)), ("nobody", ("nogroup", "nobody"))):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return user.pw_name, _group_of(user, groups)
    return None


def socket_dir(run_dir: Path) -> Path:
    """``/run/lbctl/<hash of run_dir>``: the directory of the UNIX sockets HAProxy's workers
    connect to after dropping privileges (the run dir's hash keeps two agents apart)."""
    digest = hashlib.sha256(str(Path(run_dir).absolute()).encode()).hexdigest()[:12]
    return SOCKET_ROOT / digest


def prepare_socket_dir(path: Path, group: str) -> None:
    """Create ``path`` (and its root-owned parents) and make it ``root:<group>`` mode 0750, so
    the workers (in ``group``) can connect to its sockets and nobody else can. Raises
    :class:`OSError`, also when ``path`` exists but is not a directory owned by root (a symlink
    or another user's directory is never used)."""
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o750)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0:
        raise OSError(f"{path} is not a directory owned by root; refusing to use it")
    gid = grp.getgrnam(group).gr_gid if not group.isdigit() else int(group)
    os.chown(path, 0, gid, follow_symlinks=False)
    os.chmod(path, 0o750)


def remove_socket_dir(path: Path) -> None:
    """Remove ``path`` (a :func:`socket_dir`) once nothing uses it: the UNIX sockets in it,
    then the directory. Only a root-owned directory (not a symlink) is touched, and only
    socket files in it are removed; a directory that still holds anything else stays. Never
    raises."""
    try:
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0:
            return
        for entry in path.iterdir():
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(entry.lstat().st_mode):
                    entry.unlink()
        path.rmdir()
    except OSError:
        return
