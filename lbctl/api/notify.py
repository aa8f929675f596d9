"""systemd's readiness protocol (``Type=notify``), in the few lines it takes.

When systemd starts ``lbctl serve`` from ``haproxy/lbctl.service`` it sets ``$NOTIFY_SOCKET``:
a UNIX datagram socket (a path, or ``@name`` in the abstract namespace). One datagram of
``KEY=value`` lines tells it the state: ``READY=1`` once the API serves, ``STATUS=...`` a line
for ``systemctl status``, ``STOPPING=1`` when shutting down (sd_notify(3)). Without
``$NOTIFY_SOCKET`` (not under systemd) nothing is sent.
"""

from __future__ import annotations

import contextlib
import os
import socket

__all__ = ["ENV_NOTIFY_SOCKET", "sd_notify"]

ENV_NOTIFY_SOCKET = "NOTIFY_SOCKET"


def sd_notify(*lines: str) -> bool:
    """Send ``lines`` (``"READY=1"``, ``"STATUS=..."``) as one datagram to
    ``$NOTIFY_SOCKET``; True when sent, False without the variable or when the send fails
    (systemd gone: never an error for the agent)."""
    where = os.environ.get(ENV_NOTIFY_SOCKET, "")
    if not where or not lines:
        return False
    address = "\0" + where[1:] if where.startswith("@") else where
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto("\n".join(lines).encode("utf-8"), address)
        return True
    return False
