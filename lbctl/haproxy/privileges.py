"""Who HAProxy's workers run as: the privilege drop lbctl renders into ``global``.

HAProxy started as root binds its listeners (privileged ports too), reads its files and opens
its sockets first, then the workers ``setuid``/``setgid`` to ``user``/``group``
(configuration.txt §3.1, ``user`` and ``group``); the master stays root to re-execute itself
on reloads. lbctl sets the two itself (the host policy refuses them in a spec,
:mod:`lbctl.spec.policy`): when the agent runs as root, ``haproxy`` if that user exists, else
``nobody`` (group ``nogroup``, or ``nobody``'s own group), or the user ``lbctl serve
--haproxy-user`` names. When the agent is not root nothing is rendered (HAProxy could not
change users anyway).
"""

from __future__ import annotations

import grp
import os
import pwd

__all__ = ["drop_to"]


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
