"""What :class:`lbctl.client.Client` and :class:`lbctl.client.AsyncClient` share: each call as
a :class:`Call` (method, path, body, headers, the model of its answer) and each answer as a
:class:`Result`. The two clients only differ in how they send a call (httpx sync or async).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from lbctl import errors as E
from lbctl.client import cert_models as C
from lbctl.client import models as M
from lbctl.client import token_models as TM
from lbctl.client.problems import error_from_problem
from lbctl.spec import Spec

__all__ = ["Call", "Result", "calls", "result_of"]

T = TypeVar("T")


@dataclass
class Result(Generic[T]):
    """One answer of the agent, in the spirit of Zato's service invoker ``Response``.

    ``ok``: a 2xx; ``data``: the typed document (a :mod:`lbctl.client.models` model, or
    ``str`` for text); ``details``: the typed :class:`~lbctl.client.models.Problem` when the
    agent answered one; ``version``: the spec version from the ``ETag``; ``inner``: the
    ``httpx.Response``. A 503 health report is not ok but has ``data`` and no ``details``.
    """

    inner: httpx.Response
    data: T | None = None
    details: M.Problem | None = None

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return self.inner.is_success

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        return self.inner.status_code

    @property
    def version(self) -> int | None:
        """The version the ``ETag`` names (``"7"`` → 7), or ``None``."""
        tag = self.inner.headers.get("etag", "").strip('"')
        return int(tag) if tag.isdigit() else None

    def raise_for_problem(self) -> Result[T]:
        """Raise the :mod:`lbctl.errors` class the agent raised (the problem's ``error``),
        :class:`~lbctl.errors.AgentError` for an error that is no problem+json; else return
        ``self``."""
        if self.details is not None:
            raise error_from_problem(self.status_code, self.details.model_dump(exclude_none=True))
        if not self.ok and self.data is None:
            raise E.AgentError(f"{self.inner.request.method} {self.inner.request.url} answered "
                               f"HTTP {self.status_code}: {self.inner.text[:200]}")
        return self

    def unwrap(self) -> T:
        """``data``, after :meth:`raise_for_problem`."""
        self.raise_for_problem()
        if self.data is None:
            raise E.AgentError(f"the agent answered HTTP {self.status_code} without a document")
        return self.data


@dataclass
class Call:
    """One request and the type of its answer (a model class, ``str`` for text)."""

    method: str
    path: str
    model: Any
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, bytes] = field(default_factory=dict)
    content: bytes | None = None
    #: Statuses whose body is the model even though they are not 2xx (a 503 health report).
    also: tuple[int, ...] = ()

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The httpx request on ``http`` (its base URL and token)."""
        headers = {k.encode(): v for k, v in self.headers.items()}
        return http.build_request(self.method, self.path, params=self.params or None,
                                  headers=headers or None, content=self.content)


def result_of(resp: httpx.Response, model: Any, also: tuple[int, ...] = ()) -> Result[Any]:
    """Parse ``resp`` into a :class:`Result` (module docstring). Raises
    :class:`~lbctl.errors.AgentError` when a success answer is not the declared document."""
    ctype = resp.headers.get("content-type", "")
    if "problem+json" in ctype:
        try:
            return Result(resp, None, M.Problem.model_validate(resp.json()))
        except (ValueError, ValidationError):
            return Result(resp)
    if not resp.is_success and resp.status_code not in also:
        return Result(resp)
    if model is str:
        return Result(resp, resp.text)
    try:
        data = resp.json() if model is dict else model.model_validate(resp.json())
    except (ValueError, ValidationError) as exc:
        raise E.AgentError(f"the agent answered HTTP {resp.status_code} with an unexpected "
                           f"document: {exc}") from exc
    return Result(resp, data)


def _write_headers(if_match: int | None, message: str = "", author: str = "") -> dict[str, bytes]:
    """``If-Match`` (when given), ``X-Lbctl-Message`` and ``X-Lbctl-Author`` (when not empty,
    as UTF-8 bytes: the agent reads them back as UTF-8, so ``-m "déploiement"`` survives)."""
    headers = {"If-Match": f'"{if_match}"'.encode()} if if_match is not None else {}
    for name, value in (("X-Lbctl-Message", message), ("X-Lbctl-Author", author)):
        if value:
            headers[name] = " ".join(value.split()).encode("utf-8")
    return headers


def _json(data: Any) -> tuple[bytes, dict[str, bytes]]:
    return json.dumps(data).encode(), {"Content-Type": b"application/json"}


def _flags(wait: bool, allow_empty: bool) -> dict[str, str]:
    out = {} if wait else {"wait": "false"}
    if allow_empty:
        out["allow_empty"] = "true"
    return out


def _seg(value: str) -> str:
    return quote(value, safe="")


class calls:
    """The agent's operations as :class:`Call` builders (one per ``operationId``)."""

    @staticmethod
    def get_config() -> Call:
        return Call("GET", "/api/v1/config", M.ConfigDocument)

    @staticmethod
    def put_config(spec: Spec, if_match: int | None, *, message: str = "", author: str = "",
                   allow_empty: bool = False, wait: bool = True) -> Call:
        body, ctype = _json(spec.to_data())
        return Call("PUT", "/api/v1/config", M.ApplyOutcome if wait else M.Operation,
                    _flags(wait, allow_empty), {**ctype, **_write_headers(if_match, message, author)},
                    body)

    @staticmethod
    def validate(spec: Spec) -> Call:
        body, ctype = _json(spec.to_data())
        return Call("POST", "/api/v1/config/validate", M.ValidateOutcome, headers=ctype, content=body)

    @staticmethod
    def config_source() -> Call:
        return Call("GET", "/api/v1/config/source", str)

    @staticmethod
    def put_source(text: str, if_match: int | None, *, dry_run: bool = False, message: str = "",
                   author: str = "", allow_empty: bool = False, wait: bool = True) -> Call:
        params = _flags(wait, allow_empty) | ({"dry_run": "true"} if dry_run else {})
        model = M.SourceCheck if dry_run else M.ApplyOutcome if wait else M.Operation
        return Call("PUT", "/api/v1/config/source", model, params,
                    {"Content-Type": b"text/plain; charset=utf-8",
                     **_write_headers(if_match, message, author)}, text.encode())

    @staticmethod
    def plan(spec: Spec | None = None, source: str | None = None) -> Call:
        if source is not None:
            return Call("POST", "/api/v1/config/plan", M.PlanOutcome,
                        headers={"Content-Type": b"text/plain; charset=utf-8"},
                        content=source.encode())
        assert spec is not None
        body, ctype = _json(spec.to_data())
        return Call("POST", "/api/v1/config/plan", M.PlanOutcome, headers=ctype, content=body)

    @staticmethod
    def health() -> Call:
        return Call("GET", "/api/v1/health", M.HealthReport, also=(503,))

    @staticmethod
    def status() -> Call:
        return Call("GET", "/api/v1/haproxy", M.HAProxyStatus)

    @staticmethod
    def reload(message: str = "", author: str = "") -> Call:
        return Call("POST", "/api/v1/haproxy/reload", M.ReloadOutcome,
                    headers=_write_headers(None, message, author))

    @staticmethod
    def versions(limit: int = 50, before: int | None = None) -> Call:
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        return Call("GET", "/api/v1/config/versions", M.HistoryPage, params)

    @staticmethod
    def version(version: int) -> Call:
        return Call("GET", f"/api/v1/config/versions/{int(version)}", M.HistoryEntryWithBodies)

    @staticmethod
    def entry(entry_id: int) -> Call:
        return Call("GET", f"/api/v1/config/entries/{int(entry_id)}", M.HistoryEntryWithBodies)

    @staticmethod
    def rollback(version: int, if_match: int | None, *, message: str = "", author: str = "",
                 allow_empty: bool = False, wait: bool = True) -> Call:
        return Call("POST", f"/api/v1/config/versions/{int(version)}/rollback",
                    M.ApplyOutcome if wait else M.Operation, _flags(wait, allow_empty),
                    _write_headers(if_match, message, author))

    @staticmethod
    def set_server(backend: str, server: str, if_match: int | None, *, state: str | None = None,
                   weight: int | None = None, message: str = "", author: str = "",
                   wait: bool = True) -> Call:
        body, ctype = _json({k: v for k, v in (("state", state), ("weight", weight))
                             if v is not None})
        return Call("PUT", f"/api/v1/backends/{_seg(backend)}/servers/{_seg(server)}/state",
                    M.ServerOutcome if wait else M.Operation, _flags(wait, False),
                    {**ctype, **_write_headers(if_match, message, author)}, body)

    @staticmethod
    def clients() -> Call:
        return Call("GET", "/api/v1/clients", M.ClientsReport)

    @staticmethod
    def fleet() -> Call:
        return Call("GET", "/api/v1/fleet", M.FleetStatus)

    @staticmethod
    def clear_client(name: str, frontend: str | None = None) -> Call:
        return Call("DELETE", f"/api/v1/clients/{_seg(name)}/counters", M.ClearedCounters,
                    {"frontend": frontend} if frontend else {})

    @staticmethod
    def operation(op_id: str) -> Call:
        return Call("GET", f"/api/v1/operations/{_seg(op_id)}", M.Operation)

    @staticmethod
    def list_certificates() -> Call:
        return Call("GET", "/api/v1/certificates", C.CertificateList)

    @staticmethod
    def get_certificate(name: str) -> Call:
        return Call("GET", f"/api/v1/certificates/{_seg(name)}", C.Certificate)

    @staticmethod
    def put_certificate(name: str, pem: bytes, if_match: int | None, *, message: str = "",
                        author: str = "") -> Call:
        return Call("PUT", f"/api/v1/certificates/{_seg(name)}", C.CertificateOutcome,
                    headers={"Content-Type": b"application/x-pem-file",
                             **_write_headers(if_match, message, author)}, content=pem)

    @staticmethod
    def delete_certificate(name: str, if_match: int | None, *, message: str = "",
                           author: str = "") -> Call:
        return Call("DELETE", f"/api/v1/certificates/{_seg(name)}", C.CertificateOutcome,
                    headers=_write_headers(if_match, message, author))

    @staticmethod
    def list_tokens() -> Call:
        return Call("GET", "/api/v1/tokens", TM.TokenList)

    @staticmethod
    def create_token(name: str, role: str, *, message: str = "", author: str = "") -> Call:
        body, ctype = _json({"name": name, "role": role})
        return Call("POST", "/api/v1/tokens", TM.TokenCreated,
                    headers={**ctype, **_write_headers(None, message, author)}, content=body)

    @staticmethod
    def revoke_token(name: str, *, message: str = "", author: str = "") -> Call:
        return Call("DELETE", f"/api/v1/tokens/{_seg(name)}", TM.TokenRevoked,
                    headers=_write_headers(None, message, author))

    @staticmethod
    def audit(limit: int = 50, before: int | None = None) -> Call:
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        return Call("GET", "/api/v1/audit", TM.AuditPage, params)
