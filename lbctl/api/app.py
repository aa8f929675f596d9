"""The agent's FastAPI application factory.

:func:`create_app` wires a running :class:`lbctl.control.controller.Controller` and its tokens into a
FastAPI app: ``/healthz`` open, everything under ``/api/v1`` and ``/metrics`` behind a token
and the role each route declares (:mod:`lbctl.api.auth`), every error through
:mod:`lbctl.api.errors`; the app's own Prometheus registry is ``app.state.metrics``
(:mod:`lbctl.api.metrics`). The app does not start or stop the controller: ``lbctl serve``
(or a test) owns that lifecycle.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from lbctl import __version__
from lbctl.api.auth import require_token
from lbctl.api.clients import clients_router
from lbctl.api.errors import install_error_handlers
from lbctl.api.metrics import Metrics, metrics_router
from lbctl.api.routes import api_router, open_router
from lbctl.api.servers import servers_router
from lbctl.api.source import source_router
from lbctl.api.versions import versions_router
from lbctl.control.controller import Controller
from lbctl.spec import Spec
from lbctl.state.tokens import Authenticator, TokenStore

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"
"""Prefix of every token-protected route."""

_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; extra members by error (errors, diagnostics, ...).",
    "type": "object",
    "properties": {
        "type": {"type": "string", "examples": ["urn:lbctl:problem:version-conflict"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "error": {"type": "string", "description": "the lbctl error class"},
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the ``Spec`` and ``Problem`` schemas the routes refer to
    (the spec body is parsed by hand, to accept YAML too, so FastAPI cannot see its model)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    spec_schema = Spec.model_json_schema(
        by_alias=True, mode="validation", ref_template="#/components/schemas/{model}"
    )
    schemas.update(spec_schema.pop("$defs", {}))
    schemas["Spec"] = spec_schema
    schemas["Problem"] = _PROBLEM_SCHEMA
    app.openapi_schema = doc
    return doc


def create_app(
    controller: Controller, *, token: str, tokens: TokenStore | None = None
) -> FastAPI:
    """Build the agent app over a started ``controller``.

    ``token`` is the bootstrap ``admin`` token; an empty token is a ``ValueError`` (it would
    let anyone in). ``tokens`` holds the named tokens (default: the controller's state dir's
    ``tokens.json``), re-read when it changes (:class:`lbctl.state.tokens.Authenticator`). Every
    route under ``/api/v1`` and ``/metrics`` needs a token and checks its own role
    (:func:`lbctl.api.auth.require_role`). OpenAPI docs are served at ``/docs``.
    """
    app = FastAPI(
        title="lbctl agent",
        version=__version__,
        description="Declarative control of an embedded HAProxy: spec, apply, reload, health.",
    )
    app.state.controller = controller
    app.state.authenticator = Authenticator(token, tokens or TokenStore(controller.state))
    app.state.metrics = Metrics(controller)
    install_error_handlers(app)
    app.include_router(open_router)
    for router in (api_router, versions_router, servers_router, clients_router, source_router):
        app.include_router(router, prefix=API_PREFIX, dependencies=[Depends(require_token)])
    app.include_router(metrics_router, dependencies=[Depends(require_token)])

    def openapi() -> dict[str, Any]:
        return _openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app
