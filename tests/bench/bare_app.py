"""The reference of ``bench_latency.py``: a bare FastAPI app with one route, ``GET /healthz``
answering ``{"status": "ok"}`` as the agent's does, served by uvicorn with the agent's own
settings (``lifespan="off"``, no ``Server`` header, log level warning; plain HTTP, HTTP/1.1).

Run ``python tests/bench/bare_app.py PORT`` (listens on 127.0.0.1:PORT until SIGTERM)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI()


@app.get("/healthz")
def healthz() -> JSONResponse:
    """``{"status": "ok"}``, as ``lbctl.api.routes.healthz`` answers."""
    return JSONResponse({"status": "ok"})


def main() -> None:
    """Serve :data:`app` on 127.0.0.1 and the port given as the only argument."""
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                lifespan="off", server_header=False)


if __name__ == "__main__":
    main()
