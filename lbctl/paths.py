"""Where lbctl's bundled files are: Jinja templates, HAProxy-side assets, the admin web UI,
and the Swagger UI files of ``/docs`` (from the ``fastapi-offline`` package).

In a source checkout they are the top-level ``templates/``, ``haproxy/`` and ``ui/`` folders;
in an installed wheel they are the packages ``lbctl._templates``, ``lbctl._assets`` and
``lbctl._ui`` (see ``pyproject.toml``). Each function returns a real directory path.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _package_dir(package: str, checkout_dir: Path, marker: str) -> Path:
    """The installed package's directory, else the source checkout's folder holding ``marker``."""
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if (Path(location) / marker).is_file():
                return Path(location)
    if (checkout_dir / marker).is_file():
        return checkout_dir
    raise FileNotFoundError(f"lbctl is installed without its {package} files ({marker})")


@cache
def templates_dir() -> Path:
    """Directory of the ``*.j2`` templates of ``haproxy.cfg``."""
    return _package_dir("lbctl._templates", _REPO_ROOT / "templates", "haproxy.cfg.j2")


@cache
def assets_dir() -> Path:
    """Directory of the HAProxy-side assets: ``lua/``, ``errors/``, ``specs/``, Dockerfile."""
    return _package_dir("lbctl._assets", _REPO_ROOT / "haproxy", "lua/lbctl_pace.lua")


@cache
def ui_dir() -> Path:
    """Directory of the admin web UI's static files (``index.html``, scripts, styles, vendored
    assets), served by the agent at ``/ui/`` (:mod:`lbctl.api.ui`). Raises
    ``FileNotFoundError`` when lbctl has no UI files."""
    return _package_dir("lbctl._ui", _REPO_ROOT / "ui", "index.html")


#: The Swagger UI files ``/docs`` serves (:mod:`lbctl.api.docs`), from ``fastapi-offline``.
SWAGGER_UI_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")


@cache
def swagger_ui_dir() -> Path:
    """Directory of Swagger UI's files (:data:`SWAGGER_UI_FILES`) in the installed
    ``fastapi-offline`` package (a dependency: Swagger UI 5, MIT / Apache-2.0). Raises
    ``FileNotFoundError`` when it is not installed."""
    spec = importlib.util.find_spec("fastapi_offline")
    for location in (spec.submodule_search_locations or []) if spec else []:
        static = Path(location) / "static"
        if (static / SWAGGER_UI_FILES[0]).is_file():
            return static
    raise FileNotFoundError("the fastapi-offline package (Swagger UI's files) is not installed")


def default_spec_path() -> Path:
    """The embedded default spec that ``lbctl serve`` uses on first run."""
    return assets_dir() / "specs" / "default.yaml"


def lua_path(name: str = "lbctl_pace.lua") -> Path:
    """A bundled Lua script (the smoothing action)."""
    return assets_dir() / "lua" / name
