"""Runtime server read-back on 1.5, which has ``set server`` but no ``show servers state``.

On 1.5.0 (checked on the real build; the matrix, tests/test_versions.py, runs it end to end)
``show stat`` is the read-back: ``MAINT`` in maintenance, ``DRAIN`` both in the drain admin
state and at weight 0, and its weight follows ``set server ... weight`` in maintenance too.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from lbctl.control.servers import matches, read_server
from lbctl.errors import NotFound
from lbctl.haproxy.runtime import RuntimeClient


class _Stat:
    servers_state = False

    def __init__(self, status: str, weight: str) -> None:
        self.row = {"pxname": "b", "svname": "s", "status": status, "weight": weight,
                    "check_status": "L4OK"}

    def show_stat(self) -> list[dict[str, str]]:
        return [{"pxname": "b", "svname": "BACKEND", "status": "UP"}, self.row]

    def show_servers_state(self, backend: str) -> Any:
        raise AssertionError("1.5 has no show servers state")


@pytest.mark.parametrize(("status", "weight", "state", "spec_weight"), [
    ("UP", "100", "ready", 100),
    ("MAINT", "100", "maint", 100),
    ("DRAIN", "0", "drain", 100),  # weight 0 shows as DRAIN on 1.5: lbctl's drain
    ("no check", "50", "ready", 50),
])
def test_read_back_from_show_stat(status: str, weight: str, state: str, spec_weight: int) -> None:
    admin, _ = read_server(cast(RuntimeClient, _Stat(status, weight)), "b", "s")
    assert matches(admin, state, spec_weight)


def test_admin_drain_at_a_weight_is_not_lbctl_state() -> None:
    admin, _ = read_server(cast(RuntimeClient, _Stat("DRAIN", "100")), "b", "s")
    assert admin.drain and not matches(admin, "ready", 100)


def test_unknown_server() -> None:
    with pytest.raises(NotFound):
        read_server(cast(RuntimeClient, _Stat("UP", "1")), "b", "nope")
