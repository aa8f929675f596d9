"""``lbctl.render.servers``: a server line without ``order`` writes its option groups in
:data:`SERVER_KEYWORDS` order straight from :func:`server_groups` (issue 19's fast path), the
same words as through ``order``."""

from __future__ import annotations

from lbctl.render.servers import server_groups, server_line, server_options
from lbctl.spec import HealthCheck, Server
from lbctl.spec.servers import SERVER_KEYWORDS

EVERY = {"name": "s1", "address": "10.0.0.1", "port": 80, "weight": 3, "maxconn": 10,
         "backup": True, "tls": {"verify": "none", "sni": "example.com", "alpn": ["h2"]},
         "inter": "3s", "rise": 2, "fall": 4, "state": "maint", "check_port": 8080,
         "check_addr": "10.0.0.2", "cookie": "c1", "send_proxy": "v2", "resolvers": "dns",
         "init_addr": "last,libc", "on_marked_down": "shutdown-sessions", "slowstart": "10s",
         "extra": ["tfo"]}


def test_groups_come_in_keyword_order() -> None:
    server = Server.model_validate(EVERY)
    groups = server_groups(server, HealthCheck())
    assert list(groups) == list(SERVER_KEYWORDS)  # every group set, in the table's order
    spelled = server.model_copy(update={"order": list(SERVER_KEYWORDS)})
    assert server_options(server, HealthCheck()) == server_options(spelled, HealthCheck())
    assert server_line(server, None).startswith("server s1 10.0.0.1:80 weight 3 maxconn 10 ")


def test_order_still_rules_when_given() -> None:
    server = Server.model_validate({**EVERY, "order": ["extra", "weight"]})
    assert server_options(server, None).split()[:3] == ["tfo", "weight", "3"]


def test_ipv6_address_is_bracketed() -> None:
    server = Server.model_validate({"name": "s6", "address": "::1", "port": 81})
    assert server_line(server, None) == "server s6 [::1]:81 weight 1"
