"""lbctl.haproxy.validate: ``haproxy -c`` diagnostics on the real 2.8 and 2.6 binaries."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from lbctl.errors import ConfigRejected, StoreError
from lbctl.haproxy.binary import HAProxyBinary, inspect_binary
from lbctl.haproxy.validate import check_file, check_text, parse_output
from tests.haproxy_helpers import binary_params

VALID = """\
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend f
    bind 127.0.0.1:18081
    default_backend b
backend b
    server s1 127.0.0.1:1
"""

WARNS = """\
defaults
    mode http
frontend f
    bind 127.0.0.1:18081
    default_backend b
backend b
    server s1 127.0.0.1:1
"""

BAD_KEYWORDS = """\
global
    foo bar
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend f
    bind 127.0.0.1:18081
    default_backend b
backend b
    balance roundrobinx
    server s1 127.0.0.1:1
"""

BAD_REFERENCES = """\
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend f
    bind 127.0.0.1:18081
    default_backend nope
backend b
    server s1 127.0.0.1:1 track nob/nos
"""


@pytest.fixture(params=binary_params())
def binary(request: pytest.FixtureRequest) -> HAProxyBinary:
    return inspect_binary(request.param)


def test_valid_config_has_no_diagnostics(binary: HAProxyBinary, tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(VALID)
    assert check_file(binary, cfg) == []


def test_warnings_are_returned(binary: HAProxyBinary, tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(WARNS)
    diags = check_file(binary, cfg)
    assert [d.severity for d in diags] == ["warning", "warning"]
    assert diags[0].message.startswith("missing timeouts for frontend 'f'.")
    assert "'client', 'connect', 'server'" in diags[0].message  # `|` continuation joined
    assert "\n" not in diags[0].message


def test_alerts_carry_line_and_text(binary: HAProxyBinary, tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(BAD_KEYWORDS)
    with pytest.raises(ConfigRejected) as err:
        check_file(binary, cfg)
    alerts = err.value.diagnostics
    assert [(d.severity, d.line, d.text) for d in alerts] == [
        ("alert", 2, "    foo bar"),
        ("alert", 12, "    balance roundrobinx"),
    ]
    assert alerts[0].message == "unknown keyword 'foo' in 'global' section"
    assert alerts[1].message.startswith("balance only supports 'roundrobin'")
    assert "(line 2)" in str(err.value)
    assert "[ALERT]" in err.value.output


def test_post_parse_alerts(binary: HAProxyBinary, tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(BAD_REFERENCES)
    with pytest.raises(ConfigRejected) as err:
        check_file(binary, cfg)
    by_message = {d.message: d for d in err.value.diagnostics}
    proxy = by_message["Proxy 'f': unable to find required default_backend: 'nope'."]
    assert proxy.line is None and proxy.text is None
    track = next(d for d in err.value.diagnostics if "for tracking" in d.message)
    assert track.message.startswith("'server b/s1' : unable to find required proxy 'nob'")
    assert (track.line, track.text) == (10, "    server s1 127.0.0.1:1 track nob/nos")


def test_nonzero_exit_without_alert_gets_synthetic_alert(binary: HAProxyBinary, tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("global\n    maxconn 10\n")  # valid, but no listener: exit 2, no [ALERT]
    with pytest.raises(ConfigRejected) as err:
        check_file(binary, cfg)
    [alert] = err.value.diagnostics
    assert alert.severity == "alert"
    assert "will not start (no listener)" in alert.message


def test_relative_paths_resolve_from_config_dir(binary: HAProxyBinary, tmp_path: Path) -> None:
    (tmp_path / "ok.lua").write_text("core.register_service('x', 'http', function(a) end)\n")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("global\n    lua-load ok.lua\n" + VALID)
    assert check_file(binary, cfg) == []


def test_timeout_is_rejected(binary: HAProxyBinary, tmp_path: Path) -> None:
    (tmp_path / "slow.lua").write_text("local t = os.time() while os.time() - t < 3 do end\n")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("global\n    lua-load slow.lua\n" + VALID)
    with pytest.raises(ConfigRejected) as err:
        check_file(binary, cfg, timeout=0.5)
    assert "timed out after 0.5 s" in err.value.diagnostics[0].message


def test_extra_args_are_passed(binary: HAProxyBinary, tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(VALID)
    peers = tmp_path / "peers.cfg"
    peers.write_text("peers lbctl\n    peer lbctl 127.0.0.1:1\n")
    assert check_file(binary, cfg, extra_args=["-f", str(peers), "-L", "lbctl"]) == []
    with pytest.raises(ConfigRejected):
        check_file(binary, cfg, extra_args=["-f", str(tmp_path / "missing.cfg")])


def test_check_text_exact_bytes_and_cleanup(binary: HAProxyBinary, tmp_path: Path) -> None:
    text = BAD_KEYWORDS.replace("    foo bar", "    foo bar é")  # non-ASCII survives
    with pytest.raises(ConfigRejected) as err:
        check_text(binary, text, directory=tmp_path)
    assert err.value.diagnostics[0].text == "    foo bar é"
    assert list(tmp_path.iterdir()) == []
    assert check_text(binary, VALID, directory=tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_check_text_missing_directory(binary: HAProxyBinary, tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        check_text(binary, VALID, directory=tmp_path / "missing")


def test_parse_output_pre_2_4_format(tmp_path: Path) -> None:
    cfg = tmp_path / "x.cfg"
    cfg.write_text("global\n    foo\n")
    output = (
        "[ALERT] 123/045612 (1234) : parsing [x.cfg:2] : unknown keyword 'foo' in 'global' "
        "section\n[ALERT] 123/045612 (1234) : Error(s) found in configuration file : x.cfg\n"
        "[WARNING] 123/045612 (1234) : parsing [other.cfg:9] : something\n"
    )
    diags = parse_output(output, cfg, tmp_path)
    assert [(d.severity, d.line, d.text, d.message) for d in diags] == [
        ("alert", 2, "    foo", "unknown keyword 'foo' in 'global' section"),
        ("warning", None, None, "parsing [other.cfg:9] : something"),
    ]


def _haproxy_children() -> list[int]:
    return [p.pid for p in psutil.Process().children(recursive=True)
            if "haproxy" in " ".join(p.cmdline()[:1])]


def test_while_running_runs_during_the_check_and_its_error_stops_it(
        binary: HAProxyBinary, tmp_path: Path) -> None:
    (tmp_path / "slow.lua").write_text("local t = os.time() while os.time() - t < 2 do end\n")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("global\n    lua-load slow.lua\n" + VALID)
    seen: list[list[int]] = []
    assert check_file(binary, cfg, while_running=lambda: seen.append(_haproxy_children())) == []
    assert len(seen) == 1 and len(seen[0]) == 1  # the check was running while the caller worked

    def fails() -> None:
        raise RuntimeError("the caller's work failed")

    with pytest.raises(RuntimeError, match="the caller's work failed"):
        check_file(binary, cfg, while_running=fails)
    assert _haproxy_children() == []  # killed and reaped, not left running


def test_a_check_that_ended_while_the_caller_worked_is_not_a_timeout(
        binary: HAProxyBinary, tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(WARNS)
    quick = check_file(binary, cfg)
    assert quick  # WARNS has warnings: they must come through after a late read too
    assert check_file(binary, cfg, timeout=0.2, while_running=lambda: time.sleep(0.5)) == quick
