"""The agent's collector of HAProxy's logs, at the socket the rendered config names.

:func:`open_collector` makes the :class:`lbctl.haproxy.logs.LogCollector` of a controller:
its socket is :attr:`lbctl.render.RenderContext.log_socket` of the state dir (the run dir; the
socket dir, prepared ``root:<group>`` 0750, when HAProxy's workers drop privileges, since
they are the ones sending), so the ``log`` line of every config this controller renders
points at it. A socket that cannot be opened does not stop the agent: the collector's
``unavailable`` says why, and HAProxy drops its log lines (a datagram nobody reads).
"""

from __future__ import annotations

import logging
from pathlib import Path

from lbctl.errors import StoreError
from lbctl.haproxy.logs import DEFAULT_CAPACITY, LogCollector
from lbctl.haproxy.privileges import prepare_socket_dir, socket_dir
from lbctl.render import RenderContext
from lbctl.state.store import StateDir

__all__ = ["log_socket", "open_collector"]

log = logging.getLogger("lbctl.control.logs")


def log_socket(state: StateDir, identity: tuple[str, str] | None) -> Path:
    """Where HAProxy sends its logs for ``state``: the render context's ``log_socket``
    (``identity``: the ``(user, group)`` the workers drop to, or ``None``)."""
    sockets = socket_dir(state.run_dir) if identity is not None else None
    return RenderContext(state.run_dir, socket_dir=sockets).log_socket


def open_collector(state: StateDir, identity: tuple[str, str] | None, *,
                   file: Path | None = None, capacity: int = DEFAULT_CAPACITY) -> LogCollector:
    """A started collector for ``state`` (``file``: the rotating copy, ``lbctl serve
    --haproxy-log``); the state dir is created first when new. Never raises: on failure
    it is returned closed, with ``unavailable`` saying why (logged as an error)."""
    path = log_socket(state, identity)
    collector = LogCollector(path, capacity=capacity, file=file,
                             group=identity[1] if identity is not None else None)
    try:
        state.ensure()
        if identity is not None:
            prepare_socket_dir(path.parent, identity[1])
        collector.open()
    except (OSError, StoreError) as exc:
        collector.unavailable = collector.unavailable or f"cannot collect HAProxy's logs: {exc}"
        log.error("%s", collector.unavailable)
    return collector
