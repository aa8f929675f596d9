"""HTTP methods beyond the routes: ``HEAD`` wherever ``GET`` works, ``OPTIONS`` and ``Allow``.

:class:`MethodsMiddleware` (pure ASGI, outermost) answers ``OPTIONS`` on any known path with
204 and ``Allow`` (every method of every route on that path, RFC 9110 §9.3.7), and runs a
``HEAD`` as the ``GET`` of the same path with the body dropped (same status and headers,
``Content-Length`` included, §9.3.2). :func:`allowed_methods` is what a 405 lists
(:mod:`lbctl.api.errors`): all of them, not only those of the first route that matched.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MethodsMiddleware", "allowed_methods"]


def _table(app: Any) -> list[tuple[re.Pattern[str], set[str]]]:
    """``(path regex, methods)`` of every operation of ``app``'s OpenAPI document and every
    plain route (``/docs``, ``/openapi.json``), built once per app."""
    cached: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "_lbctl_methods",
                                                                    None)
    if cached is not None:
        return cached
    table: dict[str, set[str]] = {}
    for path, ops in app.openapi().get("paths", {}).items():
        table.setdefault(path, set()).update(m.upper() for m in ops)
    for route in app.routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if isinstance(path, str) and methods:
            table.setdefault(path, set()).update(methods)
    cached = [(compile_path(path)[0], methods) for path, methods in table.items()]
    app.state._lbctl_methods = cached
    return cached


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """Every method the routes of ``app`` accept on ``scope``'s path (HEAD with GET, and
    OPTIONS), sorted; empty when no route has that path."""
    path = scope.get("path", "")
    methods: set[str] = set()
    for pattern, allowed in _table(app):
        if pattern.match(path):
            methods |= allowed
    if not methods:
        return []
    if "GET" in methods:
        methods.add("HEAD")
    methods.add("OPTIONS")
    return sorted(methods)


class MethodsMiddleware:
    """``OPTIONS`` and ``HEAD`` for every route of ``app`` (module docstring)."""

    def __init__(self, app: ASGIApp, routes_of: Any) -> None:
        self.app = app
        self.routes_of = routes_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            allow = allowed_methods(self.routes_of, scope)
            if allow:
                await send({"type": "http.response.start", "status": 204,
                            "headers": [(b"allow", ", ".join(allow).encode())]})
                await send({"type": "http.response.body", "body": b""})
                return
            await self.app(scope, receive, send)
            return

        async def headless(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headless)
