"""The admin web UI's static files at ``/ui/``, and the security headers of every response.

:func:`install_ui` serves the UI's directory (:func:`lbctl.paths.ui_dir`: ``ui/`` of a checkout,
``lbctl._ui`` in the wheel) at ``/ui/`` from the agent's own app and port: ``/ui`` redirects to
``/ui/``, ``/ui/`` is ``index.html``, any other path a file of that directory (Starlette's
:class:`StaticFiles`: no path outside it, no symlink out of it; ``ETag`` and
``Cache-Control: no-cache``, so an upgraded agent's files are fetched again). A missing file
is a 404 problem+json. The UI talks only to the public ``/api/v1`` API (its session:
:mod:`lbctl.api.session`).

:class:`SecurityHeaders` (pure ASGI, outermost) puts on every response of the app — the UI,
the API, ``/docs`` — the headers of :data:`SECURITY_HEADERS`: a strict Content-Security-Policy
(:data:`CSP`: scripts, styles and connections from the agent's origin only, no inline script
or style, no ``eval``, no framing, no plugin, no ``<base>``; images also as ``data:`` URLs),
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
``X-Frame-Options: DENY`` (CSP Level 3, W3C; Fetch §3.5 for nosniff). A header a route sets
itself is kept.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lbctl.errors import NotFound
from lbctl.paths import ui_dir

__all__ = ["CSP", "SECURITY_HEADERS", "UI_PATH", "SecurityHeaders", "install_ui"]

#: Where the UI is served.
UI_PATH = "/ui"

#: The Content-Security-Policy of every response: same-origin only, nothing inline.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")

#: Every response's security headers (module docstring).
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

log = logging.getLogger("lbctl.api")

# Under nosniff a script must come with a JavaScript type: make sure modules have one.
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every HTTP response (module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)


class _UIFiles(StaticFiles):
    """:class:`StaticFiles` whose answers are revalidated (``Cache-Control: no-cache``)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def install_ui(app: FastAPI, directory: Path | None = None) -> None:
    """Serve ``directory`` (default :func:`lbctl.paths.ui_dir`) at ``/ui/`` in ``app`` and add
    :class:`SecurityHeaders` as its outermost middleware (call it after every other
    ``add_middleware``). Without UI files, ``/ui/`` answers a 404 problem saying so (logged
    once at start)."""

    async def to_slash() -> RedirectResponse:
        return RedirectResponse(f"{UI_PATH}/", status_code=307)

    app.add_api_route(UI_PATH, to_slash, methods=["GET"], include_in_schema=False)
    try:
        root = directory if directory is not None else ui_dir()
    except FileNotFoundError as exc:
        log.warning("the admin UI is not served: %s", exc)
        missing = str(exc)

        async def no_ui(path: str) -> Any:
            raise NotFound(f"the admin UI is not installed: {missing}")

        app.add_api_route(f"{UI_PATH}/{{path:path}}", no_ui, methods=["GET"],
                          include_in_schema=False)
    else:
        app.mount(UI_PATH, _UIFiles(directory=root, html=True), name="ui")
    app.add_middleware(SecurityHeaders)
