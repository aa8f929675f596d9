"""``/docs``: Swagger UI over the agent's OpenAPI document, offline and under the strict CSP.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN (blank without internet) and starts it
with an inline ``<script>``, which the agent's Content-Security-Policy
(:data:`lbctl.api.ui.CSP`: ``script-src 'self'``) refuses. This module serves the page the
way FastAPI's "Self-hosting JavaScript and CSS for docs" recipe does, with two changes:

- Swagger UI's files (``swagger-ui-bundle.js``, ``swagger-ui.css``; Swagger UI 5, which reads
  OpenAPI 3.1) come from the ``fastapi-offline`` package (MIT; Swagger UI itself Apache-2.0,
  its licence in that package's metadata), at ``/docs/assets/<name>``;
- the start-up code is a script file of its own, ``/docs/init.js`` (no inline script), with
  Swagger's validator badge off (``validatorUrl: null``: it would call swagger.io).

Nothing on the page points off the agent's origin. ReDoc is not served: its standalone bundle
injects ``<style>`` elements and starts a ``blob:`` worker, both refused by the CSP.
"""

from __future__ import annotations

import html

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

from lbctl.errors import NotFound
from lbctl.paths import SWAGGER_UI_FILES, swagger_ui_dir

__all__ = ["ASSETS", "DOCS_PATH", "install_docs"]

#: Where the docs page is served.
DOCS_PATH = "/docs"
#: The Swagger UI files served at ``/docs/assets/<name>``, and nothing else of the package.
ASSETS = SWAGGER_UI_FILES

_INIT_JS = """\
// Starts Swagger UI over the agent's OpenAPI document (lbctl.api.docs).
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def _page(title: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)} - API docs</title>
<link rel="stylesheet" href="{DOCS_PATH}/assets/swagger-ui.css">
<link rel="icon" href="{DOCS_PATH}/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{DOCS_PATH}/assets/swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/docs/init.js`` and ``/docs/assets/{name}`` to ``app`` (create it with
    ``docs_url=None, redoc_url=None``); none of them is in the OpenAPI document, and none
    needs a token (the document at ``/openapi.json`` is open too)."""
    page = _page(app.title)

    async def docs_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    async def init_js() -> Response:
        return Response(_INIT_JS, media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})

    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise NotFound(f"no docs asset {name!r} (served: {', '.join(ASSETS)})")
        return FileResponse(swagger_ui_dir() / name)

    app.add_api_route(DOCS_PATH, docs_page, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{DOCS_PATH}/init.js", init_js, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{DOCS_PATH}/assets/{{name}}", asset, methods=["GET"],
                      include_in_schema=False)
