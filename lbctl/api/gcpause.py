"""The garbage collector paused for the agent's large requests, until their answer is sent.

A config write (``PUT``/``POST`` under ``/api/v1/config``: apply, validate, source, plan,
rollback) and ``GET /api/v1/health`` build and drop a million objects at 10,000 backends /
50,000 servers, on top of the half million the current spec holds, and CPython's full
collections over that heap were a third of the request: measured on the 10k apply,
``Spec.to_data`` took 0.99 s with the collector on and 0.47 s with it paused, the render 0.81 s
and 0.55 s (:mod:`lbctl.config.pause` says why). :class:`GcPauseMiddleware` (pure ASGI) runs
those requests with the collector paused, from the whole request read to the last byte sent;
as the pause ends, what the request kept joins the oldest generation without a collection
visiting it (:func:`lbctl.config.pause.gc_paused`; before, collections of all of it followed
each answer, holding the GIL). Every other request runs as before. A pause ends when the
request does, however it ends (answer, error, disconnect).
"""

from __future__ import annotations

from contextlib import ExitStack

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lbctl.config.pause import gc_paused

__all__ = ["GcPauseMiddleware", "paused_for"]

_CONFIG = "/api/v1/config"
_HEALTH = "/api/v1/health"


def paused_for(method: str, path: str) -> bool:
    """Whether a request runs with the collector paused (module docstring)."""
    if method in ("PUT", "POST"):
        return path == _CONFIG or path.startswith(_CONFIG + "/")
    return method in ("GET", "HEAD") and path == _HEALTH


class GcPauseMiddleware:
    """Runs the requests :func:`paused_for` names inside :func:`lbctl.config.pause.gc_paused`:
    a ``GET`` from its start, a write once its whole body has arrived (a client that sends
    its body slowly does not hold the pause), both until the app has sent the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not paused_for(scope["method"], scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        write = scope["method"] not in ("GET", "HEAD")
        with ExitStack() as pause:
            if not write:
                pause.enter_context(gc_paused())

            async def received() -> Message:
                message = await receive()
                whole = message["type"] == "http.request" and not message.get("more_body", False)
                if write and whole:
                    pause.close()  # a second whole body (none in HTTP/1.1) does not nest
                    pause.enter_context(gc_paused())
                return message

            await self.app(scope, received if write else receive, send)
