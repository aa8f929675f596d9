"""The order of sections survives import → render (issue 12, item 4).

HAProxy numbers proxies without an ``id`` in file order (``show stat``'s ``iid``), so a config
whose backend comes before its frontend, with a ``listen`` between them, must be written back
in that order; a hand-written spec (no ``order``) keeps lbctl's order: ``sections``, frontends,
backends (``tests/golden`` pins it byte for byte).
"""

from __future__ import annotations

from pathlib import Path

from lbctl.config import loads
from lbctl.haproxy.binary import inspect_binary
from lbctl.haproxy.process import HAProxyProcess
from lbctl.haproxy.runtime import RuntimeClient
from lbctl.haproxy.validate import check_text
from lbctl.importer import import_spec
from lbctl.render import RenderContext, peer_args, render
from lbctl.spec import validate_spec

from .agent_helpers import free_port
from .haproxy_helpers import managed
from .test_api import _bundled
from .test_render import CTX, caps

FILE = """\
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s

backend app
    server s1 127.0.0.1:9

listen stats
    bind 127.0.0.1:{stats}
    stats enable

userlist admins
    user a insecure-password b

frontend www
    bind 127.0.0.1:{www}
    default_backend app
"""


def _headers(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln and not ln[0].isspace() and not ln.startswith("#")]


def test_the_file_order_is_kept() -> None:
    text = FILE.format(stats=9001, www=9002)
    spec = import_spec(loads(text), caps=caps("2.8.25"), ctx=CTX)
    assert spec.order == ["backend app", "listen stats", "userlist admins", "frontend www"]
    rendered = render(spec, caps("2.8.25"), CTX)
    assert _headers(rendered)[2:] == ["backend app", "listen stats", "userlist admins", "frontend www"]
    again = import_spec(loads(rendered), caps=caps("2.8.25"), ctx=CTX)
    assert again == spec and render(again, caps("2.8.25"), CTX) == rendered


def test_lbctl_order_needs_no_order_and_a_hand_written_spec_keeps_it() -> None:
    data = {"frontends": [{"name": "www", "bind": ["127.0.0.1:80"], "default_backend": "app"}],
            "backends": [{"name": "app"}],
            "sections": [{"kind": "userlist", "name": "admins", "lines": []}]}
    rendered = render(validate_spec(data), caps("2.8.25"), CTX)
    assert _headers(rendered)[2:] == ["userlist admins", "frontend www", "backend app"]
    assert import_spec(loads(rendered), caps=caps("2.8.25"), ctx=CTX).order is None


def test_order_names_sections_stale_entries_are_ignored_unnamed_ones_follow() -> None:
    data = {"frontends": [{"name": "www", "bind": ["127.0.0.1:80"], "default_backend": "app",
                           "clients": [{"name": "c", "path_prefix": "/c", "rate": 5}]}],
            "backends": [{"name": "app"}, {"name": "other"}],
            "global": {"prometheus_exporter": {"bind": "127.0.0.1:8405"}},
            "order": ["backend other", "backend gone", "frontend www"]}
    headers = _headers(render(validate_spec(data), caps("2.8.25"), CTX))[2:]
    # lbctl's peers before the first frontend, its exporter after the last one
    assert headers == ["backend other", "peers lbctl", "frontend www", "frontend lbctl_prometheus",
                       "backend app", "backend lbctl_clients_www"]


def test_haproxy_numbers_the_proxies_in_file_order(short_dir: Path) -> None:
    """``show stat`` of the running rendering: the proxies' ``iid`` follow the file's order."""
    binary = inspect_binary(_bundled())
    ctx = RenderContext(short_dir)
    text = FILE.format(stats=free_port(), www=free_port())
    rendered = render(import_spec(loads(text), caps=binary.capabilities(), ctx=ctx),
                      binary.capabilities(), ctx)
    check_text(binary, rendered, directory=short_dir, extra_args=peer_args(binary.capabilities()))
    (short_dir / "haproxy.cfg").write_text(rendered)
    proc = HAProxyProcess(binary, config_path=short_dir / "haproxy.cfg", run_dir=short_dir)
    with managed(proc):
        proc.start()
        rows = RuntimeClient(ctx.stats_socket).show_stat()
    iid = {r["pxname"]: int(r["iid"]) for r in rows}
    assert iid["app"] < iid["stats"] < iid["www"]
