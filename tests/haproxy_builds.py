"""Build the HAProxy versions of the support matrix from ``../shared/haproxy-src/`` and cache them.

Run it as ``python -m tests.haproxy_builds`` (``.ci/run`` does, before ``pytest``) or use
:func:`ensure_builds` from a pytest session fixture (``tests/test_versions.py``). It:

1. installs the Debian build packages it needs (as root only; otherwise it trusts what is there);
2. verifies each tarball against ``SHA256SUMS`` before building it;
3. builds every entry of :data:`BUILDS` with the make arguments of the sources' README (gcc 12
   and OpenSSL 3: ``-fcommon`` for 1.5/1.8, Lua 5.3 for 1.6–2.4, Lua 5.4 and OpenSSL for 3.x),
   two builds at a time on two cores;
4. caches each binary at ``<cache>/<name>-<key>/haproxy`` with its ``-vv`` text beside it, where
   ``key`` hashes the tarball checksum and the make arguments, so a second run builds nothing.

Paths: the sources are ``$LBCTL_HAPROXY_SRC`` or ``../shared/haproxy-src`` relative to the
repository; the cache is ``$LBCTL_HAPROXY_CACHE`` or ``/var/cache/lbctl-haproxy`` (falling back
to ``~/.cache/lbctl-haproxy`` when that is not writable). Exit status 0 when every build is
available, 1 when one failed, 0 with a message when the sources are absent (nothing to build).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Bump when the way a build is made changes (invalidates every cache entry).
RECIPE = "1"
#: Debian 12 packages the builds need (the sources' README; zlib for 1.x's compression code).
PACKAGES = ("build-essential", "liblua5.3-dev", "liblua5.4-dev", "libpcre2-dev",
            "libssl-dev", "zlib1g-dev")

_LUA53 = ("USE_LUA=1", "LUA_INC=/usr/include/lua5.3", "LUA_LIB_NAME=lua5.3")
_LUA54 = ("USE_LUA=1", "LUA_INC=/usr/include/lua5.4", "LUA_LIB_NAME=lua5.4")
_MODERN = ("TARGET=linux-glibc", "USE_OPENSSL=1", "USE_PCRE2=1", "USE_PROMEX=1", *_LUA54)


@dataclass(frozen=True)
class Build:
    """One binary of the matrix: ``name`` (``"1.8.0-nolua"``), its tarball and make arguments."""

    name: str
    version: str
    args: tuple[str, ...]

    @property
    def tarball(self) -> str:
        """File name in the sources directory (``haproxy-1.8.0.tar.gz``)."""
        return f"haproxy-{self.version}.tar.gz"

    @property
    def lua(self) -> bool:
        """True when the build is made with Lua."""
        return "USE_LUA=1" in self.args


BUILDS: tuple[Build, ...] = (
    Build("1.5.0", "1.5.0", ("TARGET=linux2628", "SPEC_CFLAGS=-fno-strict-aliasing -fcommon")),
    Build("1.8.0", "1.8.0", ("TARGET=linux2628", *_LUA53, "DEBUG_CFLAGS=-g -fcommon")),
    Build("1.8.0-nolua", "1.8.0", ("TARGET=linux2628", "DEBUG_CFLAGS=-g -fcommon")),
    Build("2.0.0", "2.0.0", ("TARGET=linux-glibc", *_LUA53)),
    Build("2.0.0-nolua", "2.0.0", ("TARGET=linux-glibc",)),
    Build("2.4.0", "2.4.0", ("TARGET=linux-glibc", "USE_PCRE2=1", "USE_PROMEX=1", *_LUA53)),
    Build("3.0.0", "3.0.0", _MODERN),
    Build("3.2.0", "3.2.0", _MODERN),
    Build("3.3.0", "3.3.0", _MODERN),
)


def source_dir() -> Path:
    """Where the tarballs are: ``$LBCTL_HAPROXY_SRC`` or ``../shared/haproxy-src``."""
    env = os.environ.get("LBCTL_HAPROXY_SRC")
    return Path(env) if env else (REPO.parent / "shared" / "haproxy-src").resolve()


def cache_dir() -> Path:
    """Where binaries are cached (created on demand); see the module docstring."""
    env = os.environ.get("LBCTL_HAPROXY_CACHE")
    candidates = [Path(env)] if env else [Path("/var/cache/lbctl-haproxy"),
                                          Path.home() / ".cache" / "lbctl-haproxy"]
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    raise SystemExit(f"no writable cache directory among {', '.join(map(str, candidates))}")


def checksums(src: Path) -> dict[str, str]:
    """``{tarball name: sha256 hex}`` from ``SHA256SUMS``."""
    out: dict[str, str] = {}
    for line in (src / "SHA256SUMS").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[1].lstrip("*")] = parts[0].lower()
    return out


def build_key(build: Build, checksum: str) -> str:
    """12 hex digits of sha256 over the tarball checksum, the make arguments and the recipe."""
    text = "\0".join((RECIPE, checksum, *build.args))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def binary_path(build: Build, checksum: str, cache: Path | None = None) -> Path:
    """Cached binary of ``build`` (which may not exist yet)."""
    return (cache or cache_dir()) / f"{build.name}-{build_key(build, checksum)}" / "haproxy"


def install_packages() -> None:
    """``apt-get install`` the packages of :data:`PACKAGES` that are missing (root only)."""
    missing = [p for p in PACKAGES
               if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                 text=True).stdout != "install ok installed"]
    if not missing:
        return
    if os.geteuid() != 0:
        print(f"-- not root: not installing {' '.join(missing)}; builds may fail", flush=True)
        return
    print(f"-- apt-get install {' '.join(missing)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (two runs building the same entry wait for each other)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_one(build: Build, src: Path, sums: dict[str, str], cache: Path, jobs: int) -> Path:
    """Return the cached binary of ``build``, building it first when absent.

    Raises ``RuntimeError`` on a checksum mismatch or a failed make (with its last lines).
    """
    checksum = sums.get(build.tarball)
    if checksum is None:
        raise RuntimeError(f"{build.tarball} is not listed in {src / 'SHA256SUMS'}")
    target = binary_path(build, checksum, cache)
    with _locked(target.parent.with_name(target.parent.name + ".lock")):
        if target.exists():
            return target
        tarball = src / build.tarball
        actual = _sha256(tarball)
        if actual != checksum:
            raise RuntimeError(f"{tarball}: sha256 {actual} does not match SHA256SUMS {checksum}")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"lbctl-build-{build.name}-") as tmp:
            with tarfile.open(tarball) as tar:
                tar.extractall(tmp, filter="tar")
            tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
            tree = tops[0] if len(tops) == 1 else Path(tmp)
            proc = subprocess.run(["make", f"-j{jobs}", *build.args], cwd=tree,
                                  capture_output=True, text=True, errors="replace")
            if proc.returncode != 0 or not (tree / "haproxy").exists():
                tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
                raise RuntimeError(f"make for {build.name} failed ({proc.returncode}):\n{tail}")
            vv = subprocess.run([str(tree / "haproxy"), "-vv"], capture_output=True, text=True,
                                errors="replace")
            staging = target.parent.with_name(target.parent.name + ".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            shutil.copy2(tree / "haproxy", staging / "haproxy")
            (staging / "vv.txt").write_text(vv.stdout + vv.stderr)
            (staging / "build.json").write_text(json.dumps(
                {"name": build.name, "version": build.version, "args": list(build.args),
                 "sha256": checksum, "seconds": round(time.monotonic() - started, 1)}, indent=1))
            if target.exists():  # another run built it meanwhile (same key: same bytes)
                shutil.rmtree(staging, ignore_errors=True)
                return target
            shutil.rmtree(target.parent, ignore_errors=True)  # a half-written entry
            staging.rename(target.parent)
        print(f"-- built {build.name} in {time.monotonic() - started:.0f} s: {target}", flush=True)
        return target


def cached_builds() -> dict[str, Path]:
    """``{name: binary}`` of the builds already in the cache (no building; ``{}`` without sources)."""
    src = source_dir()
    if not (src / "SHA256SUMS").exists():
        return {}
    sums = checksums(src)
    cache = cache_dir()
    out: dict[str, Path] = {}
    for build in BUILDS:
        checksum = sums.get(build.tarball)
        if checksum and binary_path(build, checksum, cache).exists():
            out[build.name] = binary_path(build, checksum, cache)
    return out


def ensure_builds(names: list[str] | None = None, *, workers: int = 2,
                  install: bool = True) -> tuple[dict[str, Path], dict[str, str]]:
    """Build (or find cached) every build of :data:`BUILDS` (or those in ``names``).

    Returns ``({name: binary}, {name: why it is missing})``; the second maps every build to the
    same reason when the sources directory is absent.
    """
    src = source_dir()
    wanted = [b for b in BUILDS if names is None or b.name in names]
    if not (src / "SHA256SUMS").exists():
        why = f"no HAProxy sources at {src} (see DESIGN.md 'Versions'; set LBCTL_HAPROXY_SRC)"
        return {}, {b.name: why for b in wanted}
    sums = checksums(src)
    cache = cache_dir()
    todo = [b for b in wanted
            if b.tarball not in sums or not binary_path(b, sums[b.tarball], cache).exists()]
    if todo and install:
        install_packages()
    jobs = max(1, (os.cpu_count() or 1) // max(1, min(workers, len(todo) or 1)))
    built: dict[str, Path] = {}
    failed: dict[str, str] = {}

    def run(build: Build) -> None:
        try:
            built[build.name] = build_one(build, src, sums, cache, jobs)
        except (RuntimeError, OSError) as exc:
            failed[build.name] = str(exc)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(run, wanted))
    return built, failed


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m tests.haproxy_builds [--list] [--workers N] [NAME ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="build only these (default: all)")
    parser.add_argument("--workers", type=int, default=2, help="builds at a time (default 2)")
    parser.add_argument("--list", action="store_true", help="print the cached builds and exit")
    parser.add_argument("--no-install", action="store_true", help="do not apt-get install")
    args = parser.parse_args(argv)
    if args.list:
        for name, path in cached_builds().items():
            print(f"{name}\t{path}")
        return 0
    started = time.monotonic()
    built, failed = ensure_builds(args.names or None, workers=args.workers,
                                  install=not args.no_install)
    for name, path in sorted(built.items()):
        print(f"ok   {name:12} {path}")
    for name, why in sorted(failed.items()):
        print(f"FAIL {name:12} {why}", file=sys.stderr)
    if not built and failed and len(set(failed.values())) == 1 and "no HAProxy sources" in next(
            iter(failed.values())):
        print(f"-- {next(iter(failed.values()))}: the version matrix will be skipped")
        return 0
    print(f"-- {len(built)} builds available, {len(failed)} failed, "
          f"{time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
