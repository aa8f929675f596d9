"""Where lbctl's bundled files are: Jinja templates and HAProxy-side assets.

In a source checkout they are the top-level ``templates/`` and ``haproxy/`` folders; in an
installed wheel they are the packages ``lbctl._templates`` and ``lbctl._assets`` (see
``pyproject.toml``). Both functions return a real directory path.
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


def default_spec_path() -> Path:
    """The embedded default spec that ``lbctl serve`` uses on first run."""
    return assets_dir() / "specs" / "default.yaml"


def lua_path(name: str = "lbctl_pace.lua") -> Path:
    """A bundled Lua script (the smoothing action)."""
    return assets_dir() / "lua" / name
