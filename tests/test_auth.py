"""The auth dependencies on a bare FastAPI app: 401 / 403 / pass, the principal to handlers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import Depends, FastAPI

from lbctl.api.auth import CallerDep, PrincipalDep, require_role, require_token
from lbctl.api.errors import install_error_handlers
from lbctl.state.tokens import Principal, Role

from .agent_helpers import UvicornThread


class _Table:
    """An authenticator over a fixed token → principal table."""

    def __init__(self, table: dict[str, Principal]) -> None:
        self.table = table

    def authenticate(self, token: str) -> Principal | None:
        return self.table.get(token)


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.authenticator = _Table({
        "v": Principal("ann", "viewer"), "o": Principal("bob", "operator"),
        "a": Principal("admin", "admin"),
    })

    @app.get("/any", dependencies=[Depends(require_token)])
    def any_role(who: CallerDep, p: PrincipalDep) -> dict[str, str]:
        return {"who": who, "role": p.role}

    for role in ("viewer", "operator", "admin"):
        @app.get(f"/{role}", dependencies=[Depends(require_role(role))])
        def needs(who: CallerDep) -> dict[str, str]:
            return {"who": who}
    return app


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    server = UvicornThread(_app()).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            yield http
    finally:
        server.stop()


def _get(client: httpx.Client, path: str, token: str | None) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = client.get(path, headers=headers)
    return resp.status_code, resp.json()


@pytest.mark.parametrize("needed", ["viewer", "operator", "admin"])
@pytest.mark.parametrize(("token", "held"), [("v", "viewer"), ("o", "operator"), ("a", "admin")])
def test_role_order(client: httpx.Client, needed: Role, token: str, held: Role) -> None:
    status, body = _get(client, f"/{needed}", token)
    order = ["viewer", "operator", "admin"]
    if order.index(held) >= order.index(needed):
        assert status == 200
    else:
        assert status == 403
        assert body["error"] == "Forbidden"
        assert body["required_role"] == needed
        assert repr(needed) in str(body["detail"])


def test_unknown_missing_malformed_are_401(client: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic a"}):
        resp = client.get("/viewer", headers=headers)
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"].startswith("Bearer")
        assert resp.headers["content-type"] == "application/problem+json"


def test_principal_reaches_handlers(client: httpx.Client) -> None:
    assert _get(client, "/any", "o") == (200, {"who": "bob", "role": "operator"})
    assert _get(client, "/viewer", "v") == (200, {"who": "ann"})


def test_require_role_is_cached_and_checks_names() -> None:
    assert require_role("admin") is require_role("admin")
    assert require_role("admin").role == "admin"
    with pytest.raises(ValueError, match="unknown role"):
        require_role("root")
