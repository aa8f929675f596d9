"""lbctl.haproxy.sockets: argument refusal and the round trip's error mapping (real sockets)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbctl.errors import CommandRefused, HAProxyUnavailable, RuntimeAPIError
from lbctl.haproxy.sockets import SocketClient, check_argument
from tests.haproxy_helpers import short_tmpdir


@pytest.fixture
def sdir() -> Iterator[Path]:
    with short_tmpdir() as path:
        yield path


@pytest.mark.parametrize("bad", ["a;b", "a\nb", "a\rb", "a\x00b", ";"])
def test_check_argument_refuses(bad: str) -> None:
    with pytest.raises(CommandRefused):
        check_argument(bad)


def test_check_argument_passes_through() -> None:
    assert check_argument("b/s1") == "b/s1"
    assert check_argument("") == ""


def test_command_refused_before_connecting(sdir: Path) -> None:
    client = SocketClient(sdir / "missing.sock")
    with pytest.raises(CommandRefused):
        client.command("show info; shutdown sessions server b/s1")


def test_missing_socket_is_unavailable(sdir: Path) -> None:
    with pytest.raises(HAProxyUnavailable, match="show info"):
        SocketClient(sdir / "missing.sock").command("show info")


def test_refused_socket_is_unavailable(sdir: Path) -> None:
    path = sdir / "stale.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))  # bound but never listening: connect() is refused
        with pytest.raises(HAProxyUnavailable):
            SocketClient(path).command("show info")


class _Server:
    """A UNIX socket server answering each connection with ``reply`` (or never)."""

    def __init__(self, path: Path, reply: bytes | None, delay: float = 0.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen()
        self.reply, self.delay = reply, delay
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            data = b""
            while chunk := conn.recv(1024):  # until the client half-closes
                data += chunk
            self.received.append(data)
            if self.reply is None:
                time.sleep(3)
                return
            time.sleep(self.delay)
            conn.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()


def test_round_trip_reads_until_eof(sdir: Path) -> None:
    big = b"x" * 300_000 + b"\nend\n"
    server = _Server(sdir / "s.sock", big)
    try:
        assert SocketClient(sdir / "s.sock").command("show stat") == big.decode()
        server.thread.join(2)
        assert server.received == [b"show stat\n"]
    finally:
        server.close()


def test_deadline_covers_the_whole_round_trip(sdir: Path) -> None:
    server = _Server(sdir / "s.sock", None)
    try:
        started = time.monotonic()
        with pytest.raises(RuntimeAPIError, match="'show info'.*0.3 s"):
            SocketClient(sdir / "s.sock", timeout=0.3).command("show info")
        assert time.monotonic() - started < 1.0
    finally:
        server.close()
