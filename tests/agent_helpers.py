"""Helpers for the agent (API) and CLI tests: specs on free ports, a live uvicorn in a thread
over a real :class:`Controller`, and polling.

Import-only: plain functions and context managers; the fixtures live in the test modules and
use ``tests/conftest.py``'s ``haproxy_bin``, ``short_dir`` and ``backend``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lbctl.api import create_app
from lbctl.api.server import AgentThread as UvicornThread
from lbctl.control.controller import Controller
from lbctl.demo.load import free_port
from lbctl.spec import validate_spec
from lbctl.state.store import StateDir
from tests.haproxy_helpers import wait_for

__all__ = ["free_port", "wait_for"]  # re-exported for the agent tests

TOKEN = "test-token-0123456789"


def make_spec(
    front: int, peers: int, servers: list[tuple[str, int]], *, inter: str = "500ms", fall: int = 2
) -> dict[str, Any]:
    """A spec document: frontend ``web`` on 127.0.0.1:``front``, backend ``app`` with HTTP
    checks every ``inter`` (``fall`` failures mark a server DOWN), one server per
    ``(name, port)``, client ``c1`` on ``/c1`` (smooth, 50 req/s)."""
    return {
        "global": {"peers_port": peers},
        "frontends": [{
            "name": "web", "bind": [f"127.0.0.1:{front}"], "default_backend": "app",
            "clients": [{"name": "c1", "path_prefix": "/c1", "rate": 50, "burst": 5}],
        }],
        "backends": [{
            "name": "app",
            "health_check": {"method": "HEAD", "path": "/", "inter": inter, "rise": 1, "fall": fall},
            "servers": [{"name": n, "address": "127.0.0.1", "port": p} for n, p in servers],
        }],
    }


def seed_state(root: Path, data: dict[str, Any]) -> StateDir:
    """A state dir at ``root`` whose current spec (version 1) is ``data``."""
    state = StateDir(root)
    state.ensure()
    state.write_current(1, validate_spec(data))
    return state


@dataclass
class Agent:
    """A live agent: its controller, state dir, API client (token set), spec document and
    FastAPI app."""

    controller: Controller
    state: StateDir
    url: str
    api: httpx.Client
    data: dict[str, Any]
    app: Any = None

    @property
    def front(self) -> str:
        """Base URL of the HAProxy frontend ``web``."""
        return f"http://{self.data['frontends'][0]['bind'][0]}"

    def through_haproxy(self, path: str = "/x") -> httpx.Response:
        """One request through HAProxy on a fresh connection."""
        return httpx.get(self.front + path, timeout=10)


@contextlib.contextmanager
def running_agent(root: Path, data: dict[str, Any], haproxy_bin: str | None) -> Iterator[Agent]:
    """Seed ``root`` with ``data``, start a controller (real HAProxy) and uvicorn; stop both."""
    state = seed_state(root, data)
    controller = Controller(state, haproxy_bin=haproxy_bin)
    controller.start()
    try:
        app = create_app(controller, token=TOKEN)
        server = UvicornThread(app).start()
        try:
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
            ) as api:
                yield Agent(controller, state, server.url, api, data, app)
        finally:
            server.stop()
    finally:
        controller.shutdown()


