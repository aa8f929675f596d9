"""Verbatim spec text: ``extra`` lines, ``comment`` lines and ``sections`` — what is refused (and
where the error points), what is written, and the fields that write nothing when ``null``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lbctl.errors import SpecError
from lbctl.render import render
from lbctl.spec import validate_spec

from .test_render import CTX, SPECS, caps
from .test_spec import BASE


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        validate_spec(data)
    return {e.loc: e.message for e in info.value.errors}


def with_backend_extra(*lines: str) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["backends"][1]["extra"] = ["option forwardfor", *lines]
    return data


@pytest.mark.parametrize("line,needle", [
    ("http-reuse safe\nbackend evil", "one line (it contains a newline)"),
    ("option forwardfor\r", "one line (it contains a carriage return)"),
    ("option x\0", "a NUL"),
    ("http-request set-header X \"unterminated", "column 27: unterminated quote"),
    ("http-request deny if { path_beg /x", "unbalanced anonymous ACL"),
    ("server s2", "missing address for 'server s2'"),
    ("timeout server soon", "is not a time"),
    ("backend other", "'backend' is a section keyword"),
    ("listen stats", "'listen' is a section keyword"),
    ("", "must not be empty"),
    ("   ", "must not be empty"),
    (".include /etc/other.cfg", "the dot-directive '.include' is not supported"),
    (".endif", "'.endif' without '.if'"),
    (".if defined(X)", "'.if' without '.endif'"),
])
def test_bad_extra_lines_are_refused_with_the_line_named(line: str, needle: str) -> None:
    errs = errors_of(with_backend_extra(line))
    assert needle in errs.get("backends[1].extra[1]", ""), errs


def test_good_extra_lines_are_trimmed_and_kept() -> None:
    spec = validate_spec(with_backend_extra(
        "  http-request set-header X-Env prod  ", "# a comment", ".if defined(X)", ".elif defined(Y)",
        "    http-request deny", ".else", ".endif", ".notice 'loaded'",
        "http-request set-header A B\\ ", "acl api path_beg /api  # beside it"))
    assert spec.backends[1].extra == [
        "option forwardfor", "http-request set-header X-Env prod", "# a comment", ".if defined(X)",
        ".elif defined(Y)", "http-request deny", ".else", ".endif", ".notice 'loaded'",
        "http-request set-header A B\\ ", "acl api path_beg /api  # beside it"]


def test_extra_lines_are_checked_by_their_section_table() -> None:
    data = copy.deepcopy(BASE)
    data["global"] = {"extra": ["maxconn lots more"]}
    data["defaults"] = {"extra": ["errorfile 999 /x"]}
    data["frontends"][0]["extra"] = ["bind"]
    errs = errors_of(data)
    assert "'maxconn' takes one argument" in errs["global.extra[0]"]
    assert "not an HTTP status code" in errs["defaults.extra[0]"]
    assert "missing address for 'bind'" in errs["frontends[0].extra[0]"]


def test_comments_and_sections_are_checked() -> None:
    data = copy.deepcopy(BASE)
    data["comment"] = ["not a comment"]
    data["backends"][0]["servers"][0]["comment"] = ["# ok", "# two\nlines"]
    data["sections"] = [
        {"kind": "userlist", "lines": ["user a insecure-password b"]},
        {"kind": "listen", "name": "has space", "lines": []},
        {"kind": "peers", "name": "lbctl", "lines": []},
        {"kind": "cache", "name": "c", "from": "x", "lines": ["total-max-size 4 5"]},
        {"kind": "listen", "name": "app", "lines": ["bind :1"]},
    ]
    errs = errors_of(data)
    assert "starts with '#'" in errs["comment[0]"]
    assert "one line" in errs["backends[0].servers[0].comment[1]"]
    assert "needs a name" in errs["sections[0].name"]
    assert "one word" in errs["sections[1].name"]
    assert "reserved" in errs["sections[2].name"]
    assert "only proxies" in errs["sections[3].from"]
    assert "'total-max-size' takes one argument" in errs["sections[3].lines[0]"]
    assert "duplicate name 'app' (also backends[0])" in errs["sections[4].name"]
    data["sections"] = [{"kind": "global"}, {"kind": "defaults", "name": "d"}]
    assert set(errors_of(data)) == {"sections[0].kind", "sections[1].kind"}


def test_names_follow_haproxys_rules_and_from_names_the_defaults() -> None:
    data = copy.deepcopy(BASE)
    data["backends"][1]["name"] = "web"  # a frontend and a backend may share a name
    data["frontends"][0]["routes"][0]["backend"] = "web"
    assert validate_spec(data).backends[1].name == "web"
    data["backends"][1]["from"] = "base"
    assert "no defaults section named 'base'" in errors_of(data)["backends[1].from"]
    data["defaults"] = {"name": "base"}
    assert validate_spec(data).backends[1].from_ == "base"


def test_frontend_needs_a_bind_and_a_backend_unless_extra_lines_say_so() -> None:
    data = copy.deepcopy(BASE)
    data["frontends"][0].update(bind=[], default_backend=None, routes=[], clients=[])
    errs = errors_of(data)
    assert "needs at least one bind" in errs["frontends[0].bind"]
    assert "default_backend or routes" in errs["frontends[0].default_backend"]
    data["frontends"][0]["extra"] = ["bind :80 ssl crt /etc/site.pem", "use_backend app if { ssl_fc }"]
    assert validate_spec(data).frontends[0].bind == []


def test_null_fields_write_nothing_and_extra_lines_come_last_in_order() -> None:
    data = copy.deepcopy(SPECS["minimal"])
    data["global"] = {"maxconn": None, "hard_stop_after": None, "extra": ["nbthread 2"]}
    data["defaults"] = {"mode": None, "retries": None, "timeouts": dict.fromkeys(
        ["connect", "client", "server", "queue", "http_request"]), "extra": ["mode tcp"]}
    data["backends"][0].update(balance=None, extra=["balance first", "# last"])
    text = render(validate_spec(data), caps("2.8.25"), CTX)
    assert "maxconn" not in text and "hard-stop-after" not in text and "timeout connect" not in text
    assert "retries" not in text and "idle-close" not in text and "mode http" not in text
    # lbctl's own log lines (lbctl.render.loglines) come before the extra lines
    assert ("    stats timeout 30s\n    log /run/lbctl/log.sock local0\n    nbthread 2\n\n"
            "defaults\n    log global\n    mode tcp\n") in text
    assert text.endswith("backend b\n    server s 127.0.0.1:9 weight 1\n    balance first\n    # last\n")


def test_to_data_leaves_out_unused_verbatim_members() -> None:
    data = validate_spec(BASE).to_data()
    assert "sections" not in data and "comment" not in data and "extra" not in data["global"]
    assert "from" not in data["frontends"][0] and "comment" not in data["backends"][0]["servers"][0]
    assert "name" not in data["defaults"]
    spec = validate_spec(SPECS["verbatim"])
    assert validate_spec(spec.to_data()) == spec
    assert spec.to_data()["frontends"][0]["from"] == "base"


@pytest.mark.parametrize(("proxies", "sections", "clash"), [
    ({"frontends": ["a"], "backends": ["a"]}, [], False),  # a frontend and a backend may share
    ({"frontends": ["a", "a"]}, [], True),
    ({"backends": ["a", "a"]}, [], True),
    ({"listens": ["x"], "backends": ["x"]}, [], True),
    ({"listens": ["x"], "frontends": ["x"]}, [], True),
    ({"listens": ["x", "x"]}, [], True),
    ({"backends": ["y"]}, [("listen", "y")], True),
    ({"frontends": ["y"]}, [("frontend", "y")], True),
    ({"frontends": ["y"]}, [("backend", "y")], False),
    ({"backends": ["u"]}, [("userlist", "u")], False),
    ({}, [("userlist", "u"), ("userlist", "u")], True),
    ({}, [("userlist", "u"), ("peers", "u"), ("resolvers", None), ("resolvers", None)], False),
])
def test_the_unique_name_fast_path_agrees_with_the_errors(
        proxies: dict[str, list[str]], sections: list[tuple[str, str | None]], clash: bool) -> None:
    from lbctl.spec import Spec
    from lbctl.spec.checks import _name_errors, _names_unique

    server = {"name": "s", "address": "127.0.0.1", "port": 80}
    spec = Spec.model_validate({
        "frontends": [{"name": n, "bind": ["127.0.0.1:80"]} for n in proxies.get("frontends", [])],
        "backends": [{"name": n, "servers": [server]} for n in proxies.get("backends", [])],
        "listens": [{"name": n} for n in proxies.get("listens", [])],
        "sections": [{"kind": k, "name": n, "lines": []} for k, n in sections]})
    assert _names_unique(spec) is not clash
    assert bool(_name_errors(spec)) is clash
