"""Spec validation: every allowlist and cross-field rule gives a clear error naming the field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from lbctl.errors import SpecError
from lbctl.spec import json_schema, parse_spec_text, validate_spec
from lbctl.spec.types import format_duration, parse_duration_ms

BASE: dict[str, Any] = {
    "frontends": [{
        "name": "web", "bind": ["127.0.0.1:8080"], "default_backend": "app",
        "routes": [{"path_prefix": "/api", "backend": "api"}],
        "clients": [
            {"name": "client1", "path_prefix": "/client1", "rate": 10, "burst": 100},
            {"name": "client2", "path_prefix": "/client2", "rate": 5, "mode": "reject"},
        ],
    }],
    "backends": [
        {"name": "app", "health_check": {"path": "/health"},
         "servers": [{"name": "s1", "address": "127.0.0.1", "port": 9000}]},
        {"name": "api", "servers": [{"name": "s1", "address": "api.internal", "port": 9001}]},
    ],
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    """BASE with the dotted/indexed ``path`` set to ``value``."""
    data = copy.deepcopy(BASE)
    node: Any = data
    parts = path.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return data


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        validate_spec(data)
    return {e.loc: e.message for e in info.value.errors}


def test_base_spec_is_valid() -> None:
    spec = validate_spec(BASE)
    assert spec.frontends[0].clients[0].mode == "smooth"
    assert spec.backends[0].health_check is not None and spec.backends[0].health_check.method == "HEAD"
    assert str(spec.frontends[0].bind[0]) == "127.0.0.1:8080"


BAD_STRINGS = [
    ("a\nb", "newline"), ("a#b", "'#'"), ('a"b', "double quote"), ("a'b", "single quote"),
    ("a\\b", "backslash"), ("a%[b", "'%['"), ("a${b", "'${'"), ("-ab", "start with '-'"),
    ("a b", "space"),
]


@pytest.mark.parametrize("value,reason", BAD_STRINGS)
@pytest.mark.parametrize("field", [
    "frontends[0].name", "frontends[0].clients[0].name", "frontends[0].clients[0].path_prefix",
    "frontends[0].routes[0].path_prefix", "backends[0].servers[0].name",
    "backends[0].servers[0].address", "backends[0].health_check.path", "frontends[0].monitor_uri",
])
def test_forbidden_characters_are_rejected_with_the_field_named(field: str, value: str, reason: str) -> None:
    if ("path" in field or "uri" in field) and not value.startswith("-"):
        value = "/" + value
    errs = errors_of(with_change(field, value))
    assert list(errs) == [field], errs  # that field, and only it
    assert reason in errs[field], errs[field]  # the message names what is wrong


@pytest.mark.parametrize("field,value,needle", [
    ("frontends[0].name", "lbctl_front", "reserved"),
    ("frontends[0].name", "x" * 64, "1-63 characters"),
    ("frontends[0].clients[0].path_prefix", "client1", "start with '/'"),
    ("frontends[0].clients[0].path_prefix", "/a//b", "'//'"),
    ("frontends[0].clients[0].path_prefix", "/a?b", "only letters"),
    ("frontends[0].clients[0].rate", 0, "greater than 0"),
    ("frontends[0].clients[0].burst", -1, "greater than or equal to 0"),
    ("frontends[0].clients[0].mode", "queue", "'smooth' or 'reject'"),
    ("backends[0].servers[0].port", 0, "greater than or equal to 1"),
    ("backends[0].servers[0].port", 65536, "less than or equal to 65535"),
    ("backends[0].servers[0].address", "host@evil", "IP address or"),
    ("backends[0].servers[0].address", "bad_host", "RFC 1123"),
    ("backends[0].servers[0].address", "1.2.3.4.5", "RFC 1123"),
    ("backends[0].servers[0].weight", 257, "less than or equal to 256"),
    ("backends[0].servers[0].state", "up", "'ready', 'drain' or 'maint'"),
    ("backends[0].balance", "random-ish", "roundrobin"),
    ("backends[0].health_check.inter", "2 seconds", "duration"),
    ("backends[0].health_check.method", "DELETE", "HEAD"),
    ("frontends[0].bind[0]", "127.0.0.1", "address:port"),
    ("frontends[0].bind[0]", "127.0.0.1:http", "not a number"),
    ("frontends[0].bind[0]", "127.0.0.1:99999", "less than or equal to 65535"),
    ("frontends[0].bind[0]", "bad$host:80", "IP address or"),
    ("defaults.timeouts.client", "-5s", "duration"),
    ("backends[0].servers[0].colour", "red", "unknown field"),
])
def test_field_rules(field: str, value: Any, needle: str) -> None:
    errs = errors_of(with_change(field, value))
    matching = {loc: msg for loc, msg in errs.items() if loc.startswith(field)}
    assert matching, errs
    assert any(needle in msg for msg in matching.values()), errs


@pytest.mark.parametrize("field,value,needle", [
    ("frontends[0].default_backend", "nope", "no backend named 'nope'"),
    ("frontends[0].routes[0].backend", "nope", "no backend named 'nope'"),
    ("backends[1].name", "app", "duplicate name 'app'"),
    ("frontends[0].clients[1].name", "client1", "duplicate client name"),
    ("frontends[0].clients[1].path_prefix", "/client1", "duplicate path prefix"),
    ("backends[0].servers[0].name", "s1", None),
])
def test_cross_field_rules(field: str, value: Any, needle: str | None) -> None:
    data = with_change(field, value)
    if needle is None:  # duplicate server names
        data["backends"][0]["servers"].append({"name": "s1", "address": "127.0.0.1", "port": 1})
        field, needle = "backends[0].servers[1].name", "duplicate server name"
    errs = errors_of(data)
    assert needle in errs.get(field, ""), errs


def test_duplicate_bind_and_missing_backend_and_long_smooth_wait() -> None:
    data = copy.deepcopy(BASE)
    data["frontends"].append({"name": "web2", "bind": ["127.0.0.1:8080"]})
    data["frontends"][0]["clients"][0].update(rate=1, burst=60)
    errs = errors_of(data)
    assert "already bound" in errs["frontends[1].bind[0]"]
    assert "default_backend or routes" in errs["frontends[1].default_backend"]
    assert "wait up to 60000 ms" in errs["frontends[0].clients[0].burst"]


def test_durations_normalise_to_milliseconds() -> None:
    assert [parse_duration_ms(v) for v in ("500ms", "5s", "1m", "2h", "1d", 250, "750")] == [
        500, 5000, 60000, 7_200_000, 86_400_000, 250, 750]
    assert [format_duration(v) for v in (500, 5000, 90000, 60000, 1500)] == [
        "500ms", "5s", "90s", "1m", "1500ms"]
    spec = validate_spec(with_change("defaults.timeouts.client", "45s"))
    assert spec.defaults.timeouts.client == 45000


def test_yaml_and_json_load_the_same_and_bad_yaml_names_the_line() -> None:
    as_json = json.dumps(BASE)
    assert parse_spec_text(as_json) == validate_spec(BASE)
    with pytest.raises(SpecError) as info:
        parse_spec_text("frontends:\n  - name: [unclosed\n")
    assert "line" in str(info.value)
    with pytest.raises(SpecError):
        parse_spec_text("- just\n- a list\n")


def test_dump_round_trips() -> None:
    spec = validate_spec(BASE)
    assert validate_spec(spec.to_data()) == spec


def test_json_schema_describes_the_spec() -> None:
    schema = json_schema()
    assert set(schema["properties"]) == {"comment", "global", "defaults", "frontends", "backends",
                                         "listens", "sections", "order"}
    assert "Client" in schema["$defs"] and "rate" in schema["$defs"]["Client"]["properties"]
    server = schema["$defs"]["Server"]["properties"]
    assert {"extra", "order", "check_port", "cookie", "inter"} <= set(server)
    assert {"type": "null"} in server["weight"]["anyOf"]


def test_prometheus_exporter_bind_is_checked() -> None:
    spec = validate_spec(with_change("global.prometheus_exporter", {"bind": "127.0.0.1:8405"}))
    assert spec.global_.prometheus_exporter is not None
    assert spec.to_data()["global"]["prometheus_exporter"] == {"bind": "127.0.0.1:8405", "path": "/metrics"}
    errs = errors_of(with_change("global.prometheus_exporter", {"bind": "127.0.0.1:8080"}))
    assert "already bound by frontends[0].bind[0]" in errs["global.prometheus_exporter.bind"]
    errs = errors_of(with_change("global", {"peers_port": 8405, "prometheus_exporter": {"bind": "*:8405"}}))
    assert "global.peers_port" in errs["global.prometheus_exporter.bind"]
    errs = errors_of(with_change("global.prometheus_exporter", {"bind": "127.0.0.1:8405", "path": "/m#"}))
    assert "global.prometheus_exporter.path" in errs
