"""One round trip on an HAProxy UNIX stream socket (stats socket or master CLI).

Both sockets speak the same line protocol (management.txt §9.3 "Unix Socket commands",
§9.4 "Master CLI"): in non-interactive mode the client sends one command line, HAProxy answers
and closes the connection. ``;`` separates several commands on one line, so every command and
argument is checked before sending: a ``;``, CR, LF or NUL is refused, never escaped.
"""

from __future__ import annotations

import codecs
import errno
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from lbctl.errors import CommandRefused, HAProxyUnavailable, RuntimeAPIError

__all__ = ["SocketClient", "check_argument"]

_FORBIDDEN = {";": "';'", "\n": "a newline", "\r": "a carriage return", "\x00": "a NUL byte"}
_UNAVAILABLE_ERRNOS = {errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK, errno.ENOTDIR}
_CHUNK = 65536


def check_argument(arg: str) -> str:
    """Return ``arg`` unchanged, or raise ``CommandRefused`` if it holds ``;``, CR, LF or NUL.

    HAProxy's CLI treats ``;`` as a command separator and a newline as the end of a command
    (management.txt §9.3), so such a value could smuggle a second command.
    """
    for char, name in _FORBIDDEN.items():
        if char in arg:
            raise CommandRefused(f"runtime API argument refused: it contains {name}: {arg!r}")
    return arg


class SocketClient:
    """Client of one HAProxy UNIX socket: one command per connection, deadline-bound.

    ``timeout`` (seconds) bounds the whole round trip: connect, send, and reading until HAProxy
    closes the connection. A ``threading.Lock`` serialises round trips on one instance.
    """

    def __init__(self, path: str | Path, timeout: float = 2.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SocketClient({str(self.path)!r}, timeout={self.timeout!r})"

    def command(self, cmd: str) -> str:
        """Send ``cmd`` and return HAProxy's whole answer (decoded UTF-8, errors replaced).

        Raises ``CommandRefused`` when ``cmd`` holds ``;``/CR/LF/NUL; ``HAProxyUnavailable``
        when the socket file is missing or the connection is refused (HAProxy not running,
        or the master re-executing during a reload); ``RuntimeAPIError`` on a timeout or any
        other socket error. Every message names the command and the socket.
        """
        check_argument(cmd)
        with self._lock:
            return self._round_trip(cmd)

    def command_with_payload(self, cmd: str, payload: str) -> str:
        """Send ``cmd <<`` followed by ``payload`` lines and the empty line that ends them
        (management.txt 2.1+ §9.3: "a command with a payload ... needs to end with an empty
        line"); return the answer. ``cmd`` is checked as :meth:`command` does; ``payload``
        may hold newlines but no empty line, CR, NUL or ``<<`` (it would end early or be
        misread). Raises what :meth:`command` raises."""
        check_argument(cmd)
        lines = payload.strip("\n").split("\n")
        if any(not line.strip() for line in lines) or any(c in payload for c in "\r\x00"):
            raise CommandRefused(f"runtime API payload of {cmd!r} refused: an empty line, CR or NUL")
        with self._lock:
            return self._round_trip(cmd, "\n".join(lines) + "\n\n")

    def command_lines(self, cmd: str) -> Iterator[str]:
        """Send ``cmd`` and yield HAProxy's answer line by line (no line ends) while it
        arrives, so a caller can parse a long answer (``show stat`` of 50,000 servers, 14 MB)
        while HAProxy still writes it. The lock is held until the generator ends or is
        closed; the deadline and the errors are :meth:`command`'s."""
        check_argument(cmd)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        tail = ""
        with self._lock:
            for chunk in self._chunks(cmd):
                lines = (tail + decoder.decode(chunk)).split("\n")
                tail = lines.pop()
                yield from lines
        tail += decoder.decode(b"", final=True)
        if tail:
            yield tail

    def _round_trip(self, cmd: str, payload: str | None = None) -> str:
        return b"".join(self._chunks(cmd, payload)).decode("utf-8", errors="replace")

    def _chunks(self, cmd: str, payload: str | None = None) -> Iterator[bytes]:
        # The deadline bounds the time spent in here (connect, send, recv), not the time the
        # consumer of command_lines spends between two chunks.
        started = time.monotonic()
        where = f"{cmd!r} on {self.path}"
        wire = cmd.encode() + b"\n" if payload is None else (cmd + " <<\n" + payload).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(str(self.path))
                sock.sendall(wire)
                # Half-close: the master CLI keeps the connection open until the client's
                # side is shut, the stats socket does not mind (both answer then close).
                sock.shutdown(socket.SHUT_WR)
                while True:
                    remaining = self.timeout - (time.monotonic() - started)
                    if remaining <= 0:
                        raise TimeoutError
                    sock.settimeout(remaining)
                    chunk = sock.recv(_CHUNK)
                    if not chunk:
                        break
                    paused = time.monotonic()
                    yield chunk
                    started += time.monotonic() - paused
        except TimeoutError as exc:
            raise RuntimeAPIError(f"{where}: no complete answer within {self.timeout:g} s") from exc
        except OSError as exc:
            if exc.errno in _UNAVAILABLE_ERRNOS:
                raise HAProxyUnavailable(f"{where}: {exc.strerror or exc}") from exc
            raise RuntimeAPIError(f"{where}: {exc.strerror or exc}") from exc
