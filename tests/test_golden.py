"""Golden configs: the whole ``haproxy.cfg`` of the shipped specs, byte for byte.

``tests/golden/<spec>-<version>.cfg`` is what ``lbctl render haproxy/specs/<spec>.yaml
--haproxy-version <version>`` writes with the run dir ``/run/lbctl`` and the assets under
``/usr/share/lbctl/haproxy`` (fixed, so the bytes do not depend on where lbctl is installed).
``default`` is the story (client1 10 requests/s, burst 100, mode smooth, on 127.0.0.1);
``compose`` is the same story wired for docker-compose.yml. A template change that alters
them shows up here as a diff; after reviewing it, regenerate with
``pytest tests/test_golden.py --update-golden`` (or ``LBCTL_UPDATE_GOLDEN=1``). Each golden
file also passes ``haproxy -c`` on the real binary of its version.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from lbctl import paths
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.haproxy.binary import inspect_binary
from lbctl.haproxy.validate import check_text
from lbctl.render import RenderContext, peer_args, render
from lbctl.spec import load_spec

from .conftest import BINARIES

GOLDEN_DIR = Path(__file__).parent / "golden"
RUN_DIR = Path("/run/lbctl")
ASSETS_DIR = Path("/usr/share/lbctl/haproxy")
SPECS = ("default", "compose")
VERSIONS = ("2.8", "2.6")
CASES = [(spec, version) for spec in SPECS for version in VERSIONS]


def _caps(version: str) -> Capabilities:
    return Capabilities.for_target(HAProxyVersion.parse(version))


def _render(spec: str, version: str) -> str:
    parsed = load_spec(paths.assets_dir() / "specs" / f"{spec}.yaml")
    return render(parsed, _caps(version), RenderContext(RUN_DIR, ASSETS_DIR))


def _golden(spec: str, version: str) -> Path:
    return GOLDEN_DIR / f"{spec}-{version}.cfg"


def _updating(config: pytest.Config) -> bool:
    return bool(config.getoption("--update-golden")) or os.environ.get("LBCTL_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize(("spec", "version"), CASES, ids=[f"{s}-{v}" for s, v in CASES])
def test_rendered_config_matches_golden(spec: str, version: str, request: pytest.FixtureRequest) -> None:
    text = _render(spec, version)
    golden = _golden(spec, version)
    if _updating(request.config):
        golden.write_bytes(text.encode())
        return
    assert golden.exists(), f"{golden} is missing: run pytest tests/test_golden.py --update-golden"
    expected = golden.read_bytes().decode()
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            str(golden), "rendered"))
        pytest.fail(f"rendered config differs from {golden.name} (review, then "
                    f"pytest tests/test_golden.py --update-golden):\n{diff}")


def test_golden_files_are_the_cases() -> None:
    """No stale golden file: every file in tests/golden/ is one of the cases."""
    assert sorted(p.name for p in GOLDEN_DIR.glob("*.cfg")) == sorted(_golden(s, v).name for s, v in CASES)


@pytest.mark.parametrize(("spec", "version"), CASES, ids=[f"{s}-{v}" for s, v in CASES])
def test_golden_config_passes_haproxy_check(spec: str, version: str, short_dir: Path) -> None:
    """``haproxy -c`` of the golden bytes on the binary of that version, with the two fixed
    directories pointed at real ones (the Lua file must exist). The compose spec's server is
    the host ``backend`` of the compose network, unknown here: it is checked at 127.0.0.1."""
    path = BINARIES[version]
    if path is None:
        pytest.skip(f"HAProxy {version} is not installed")
    binary = inspect_binary(path)
    assert f"{binary.version.major}.{binary.version.minor}" == version
    text = _golden(spec, version).read_bytes().decode()
    text = text.replace(str(ASSETS_DIR), str(paths.assets_dir())).replace(str(RUN_DIR), str(short_dir))
    if spec == "compose":
        text = text.replace(" backend:8080 ", " 127.0.0.1:8080 ")
    diags = check_text(binary, text, directory=short_dir, extra_args=peer_args(_caps(version)))
    assert [d for d in diags if d.severity in ("alert", "warning")] == [], diags


@pytest.mark.parametrize("version", VERSIONS)
def test_cli_render_writes_the_golden_config(version: str, short_dir: Path) -> None:
    """``lbctl render --haproxy-version`` writes the same bytes, up to its two directories."""
    from typer.testing import CliRunner

    from lbctl.cli.main import app
    from lbctl.state.store import StateDir

    spec = paths.assets_dir() / "specs" / "default.yaml"
    result = CliRunner().invoke(app, ["render", str(spec), "--haproxy-version", version,
                                      "--state-dir", str(short_dir)])
    assert result.exit_code == 0, result.output
    text = result.stdout.replace(str(StateDir(short_dir).run_dir), str(RUN_DIR))
    assert text.replace(str(paths.assets_dir()), str(ASSETS_DIR)) == _golden("default", version).read_text()
