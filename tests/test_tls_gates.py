"""Each version-gated TLS field is refused (422) on a target without it, naming the field and the
version; the same spec passes where the form exists (lbctl.features.GATES)."""

from __future__ import annotations

from typing import Any

import pytest

from lbctl.errors import UnsupportedOnTarget
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.render.tls import check_tls_gates
from lbctl.spec import validate_spec


def _spec(bind_tls: dict[str, Any], server_tls: dict[str, Any]) -> Any:
    return validate_spec({
        "frontends": [{"name": "f", "default_backend": "b", "bind": [
            {"address": "127.0.0.1:8443", "tls": {"certificates": ["site"], **bind_tls}}]}],
        "backends": [{"name": "b", "servers": [
            {"name": "s", "address": "127.0.0.1", "port": 9000, "tls": {"ca": "ca", **server_tls}}]}]})


@pytest.mark.parametrize(("bind_tls", "server_tls", "loc", "below", "since"), [
    ({"min_version": "TLSv1.2"}, {}, "frontends[0].bind[0].tls.min_version", "1.7", "1.8"),
    ({"ciphersuites": ["TLS_AES_128_GCM_SHA256"]}, {}, "frontends[0].bind[0].tls.ciphersuites",
     "1.8", "1.9"),
    ({}, {"sni": "app.internal"}, "backends[0].servers[0].tls.sni", "1.7", "1.8"),
    ({}, {"alpn": ["h2"]}, "backends[0].servers[0].tls.alpn", "1.8", "1.9"),
])
def test_each_tls_gate(bind_tls: dict[str, Any], server_tls: dict[str, Any], loc: str,
                       below: str, since: str) -> None:
    spec = _spec(bind_tls, server_tls)
    with pytest.raises(UnsupportedOnTarget) as info:
        check_tls_gates(spec, Capabilities.for_target(HAProxyVersion.parse(below)))
    [error] = info.value.errors
    assert error.loc == loc and f"HAProxy {below}" in error.message
    assert info.value.version.startswith(below)
    check_tls_gates(spec, Capabilities.for_target(HAProxyVersion.parse(since)))
