"""The agent's FastAPI application factory.

:func:`create_app` wires a running :class:`lbctl.control.controller.Controller` and its tokens into a
FastAPI app: ``/healthz`` open, everything under ``/api/v1`` and ``/metrics`` behind a token
and the role each route declares (:mod:`lbctl.api.auth`), every error through
:mod:`lbctl.api.errors`; the app's own Prometheus registry is ``app.state.metrics``
(:mod:`lbctl.api.metrics`). The app does not start or stop the controller: ``lbctl serve``
(or a test) owns that lifecycle.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from lbctl import __version__
from lbctl.api.audit import audit_router
from lbctl.api.auth import require_token
from lbctl.api.certs import certs_router
from lbctl.api.clients import clients_router
from lbctl.api.contract import TAGS, openapi
from lbctl.api.deps import known_query
from lbctl.api.docs import install_docs
from lbctl.api.errors import install_error_handlers
from lbctl.api.fleet import fleet_router
from lbctl.api.gcpause import GcPauseMiddleware
from lbctl.api.logs import logs_router
from lbctl.api.methods import MethodsMiddleware
from lbctl.api.metrics import Metrics, metrics_router
from lbctl.api.operations import interrupted_problem, operations_router
from lbctl.api.ping import ping_router
from lbctl.api.routes import api_router, open_router
from lbctl.api.servers import servers_router
from lbctl.api.session import session_router
from lbctl.api.source import source_router
from lbctl.api.tokens import tokens_router
from lbctl.api.ui import install_ui
from lbctl.api.versions import versions_router
from lbctl.control.controller import Controller
from lbctl.errors import LbctlError
from lbctl.state.audit import AuditTrail, attach
from lbctl.state.operations import Operations
from lbctl.state.sessions import DEFAULT_TTL_S, SessionStore
from lbctl.state.tokens import Authenticator, TokenStore

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"
"""Prefix of every token-protected route."""


def create_app(
    controller: Controller, *, token: str, tokens: TokenStore | None = None,
    session_ttl_s: float = DEFAULT_TTL_S, ui: Path | None = None,
) -> FastAPI:
    """Build the agent app over a started ``controller``.

    ``token`` is the bootstrap ``admin`` token; an empty token is a ``ValueError`` (it would
    let anyone in). ``tokens`` holds the named tokens (default: the controller's state dir's
    ``tokens.json``), re-read when it changes (:class:`lbctl.state.tokens.Authenticator`). Every
    route under ``/api/v1`` and ``/metrics`` needs a token and checks its own role
    (:func:`lbctl.api.auth.require_role`); the admin UI's session cookie (``/api/v1/session``,
    lasting ``session_ttl_s`` seconds) counts as its token (:mod:`lbctl.api.session`). The UI
    is served at ``/ui/`` from ``ui`` (default: the bundled files, :mod:`lbctl.api.ui`), every
    response with a strict CSP; OpenAPI docs at ``/docs``, offline (:mod:`lbctl.api.docs`,
    :mod:`lbctl.api.contract`); ``HEAD`` and ``OPTIONS`` work on every path
    (:mod:`lbctl.api.methods`). Asynchronous writes still pending from an earlier run of the
    agent are marked failed (:mod:`lbctl.api.operations`). Every audit line is stored in the
    state dir's ``audit.db`` (:mod:`lbctl.state.audit`, read by ``GET /api/v1/audit``).
    """
    app = FastAPI(
        title="lbctl agent",
        version=__version__,
        description="Declarative control of an embedded HAProxy: spec, apply, reload, health.",
        openapi_tags=TAGS,
        separate_input_output_schemas=False,
        docs_url=None,  # lbctl.api.docs: offline, under the CSP
        redoc_url=None,
    )
    app.state.controller = controller
    app.state.tokens = tokens or TokenStore(controller.state)
    app.state.authenticator = Authenticator(token, app.state.tokens)
    app.state.audit = AuditTrail(controller.state)  # every audit line, stored (GET /audit)
    attach(app.state.audit)
    app.state.metrics = Metrics(controller)
    app.state.operations = Operations(controller.state.history_path)
    app.state.sessions = SessionStore(controller.state, ttl_s=session_ttl_s)
    with contextlib.suppress(LbctlError):  # the history is unavailable: writes will say so
        app.state.operations.interrupt(interrupted_problem())
    install_error_handlers(app)
    app.include_router(open_router, dependencies=[Depends(known_query)])
    app.include_router(session_router, prefix=API_PREFIX, dependencies=[Depends(known_query)])
    for router in (api_router, versions_router, servers_router, clients_router, source_router,
                   operations_router, ping_router, certs_router, logs_router,
                   fleet_router, tokens_router, audit_router):
        app.include_router(router, prefix=API_PREFIX,
                           dependencies=[Depends(require_token), Depends(known_query)])
    app.include_router(metrics_router, dependencies=[Depends(require_token), Depends(known_query)])
    app.add_middleware(MethodsMiddleware, routes_of=app)
    app.add_middleware(GcPauseMiddleware)  # outside Methods: a HEAD /health pauses too
    install_docs(app)
    install_ui(app, ui)  # last: its security headers are the outermost middleware

    def _openapi() -> dict[str, Any]:
        return openapi(app)

    app.openapi = _openapi  # type: ignore[method-assign]
    return app
