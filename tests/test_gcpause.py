"""``lbctl.api.gcpause``: the large requests run with the garbage collector paused, from their
whole body to their answer, and every request leaves it as it found it."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lbctl.api.gcpause import GcPauseMiddleware, paused_for
from lbctl.api.server import AgentThread


def _restored() -> bool:
    """True once the collector is enabled again, within 2 s: the server thread leaves the
    pause after the last byte is sent, so the client may read the answer a moment before."""
    deadline = time.monotonic() + 2
    while not gc.isenabled():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


async def _seen(request: Request) -> JSONResponse:
    before = gc.isenabled()
    await request.body()
    return JSONResponse({"before_body": before, "after_body": gc.isenabled()})


@contextmanager
def _client() -> Iterator[httpx.Client]:
    """The middleware over a bare app, on uvicorn on 127.0.0.1 (stopped on exit)."""
    routes = [Route(path, _seen, methods=["GET", "PUT", "POST"])
              for path in ("/api/v1/config", "/api/v1/config/validate", "/api/v1/health",
                           "/api/v1/clients")]
    server = AgentThread(GcPauseMiddleware(Starlette(routes=routes))).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client
    finally:
        server.stop()


def test_which_requests_pause() -> None:
    assert paused_for("PUT", "/api/v1/config") and paused_for("POST", "/api/v1/config/validate")
    assert paused_for("GET", "/api/v1/health") and paused_for("HEAD", "/api/v1/health")
    assert not paused_for("GET", "/api/v1/config") and not paused_for("PUT", "/api/v1/servers/b/s")
    assert not paused_for("GET", "/api/v1/clients") and not paused_for("DELETE", "/api/v1/config")


def test_paused_during_and_restored_after() -> None:
    assert gc.isenabled()
    with _client() as client:
        # a write: paused once its whole body is in (the handler's first read returns it)
        assert client.put("/api/v1/config", content=b"{}").json()["after_body"] is False
        assert _restored()
        assert client.post("/api/v1/config/validate", content=b"{}").json()["after_body"] is False
        assert _restored()
        assert client.get("/api/v1/health").json() == {"before_body": False, "after_body": False}
        assert _restored()
        assert client.get("/api/v1/clients").json() == {"before_body": True, "after_body": True}
    assert gc.isenabled()


def test_a_collector_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with _client() as client:
            client.get("/api/v1/health")
        assert not gc.isenabled()
    finally:
        gc.enable()
