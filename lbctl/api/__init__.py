"""The lbctl agent's HTTP API: app factory, routes, bearer auth, the one error → HTTP mapping.

:func:`lbctl.api.app.create_app` builds the FastAPI app over a started
:class:`lbctl.control.controller.Controller`; ``lbctl serve`` runs it under uvicorn.
"""

from __future__ import annotations

from lbctl.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
