"""A small httpx client of the agent's API, for the ``lbctl`` CLI.

The agent is at ``$LBCTL_URL`` (default ``http://127.0.0.1:9900``); the token comes from the
argument, ``$LBCTL_TOKEN``, or the state dir's token file (``$LBCTL_STATE_DIR/token``,
default ``./.lbctl/token``). A problem+json answer is raised as the same
:class:`lbctl.errors.LbctlError` subclass the agent raised (by the ``error`` member, else by
status: 422 → :class:`SpecError` / :class:`ConfigRejected` / :class:`ParseError`, 412, 428,
401, 409, 503 → their classes, anything else → :class:`AgentError`), so the CLI's exit codes
match the agent's errors. A connection failure is an :class:`AgentError` naming the URL.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from lbctl import errors as E
from lbctl.spec import Spec
from lbctl.state.store import StateDir, resolve_state_dir

__all__ = ["DEFAULT_URL", "AgentClient", "error_from_problem", "resolve_token"]

DEFAULT_URL = "http://127.0.0.1:9900"
ENV_URL = "LBCTL_URL"
ENV_TOKEN = "LBCTL_TOKEN"

#: Classes by status, for a problem body that does not name its class.
_BY_STATUS: dict[int, type[E.LbctlError]] = {
    401: E.AuthError,
    403: E.Forbidden,
    404: E.NotFound,
    409: E.ReloadFailed,
    412: E.VersionConflict,
    428: E.PreconditionRequired,
    503: E.HAProxyUnavailable,
}


def resolve_token(explicit: str | None = None, state_dir: str | None = None) -> str | None:
    """``explicit`` → ``$LBCTL_TOKEN`` → the state dir's token file → ``None``.

    Never creates a token file (only ``lbctl serve`` does).
    """
    if explicit:
        return explicit
    if os.environ.get(ENV_TOKEN):
        return os.environ[ENV_TOKEN]
    path = StateDir(resolve_state_dir(state_dir)).token_path
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _write_headers(if_match: int | None, message: str, author: str) -> dict[str, bytes]:
    """``If-Match`` (when given), ``X-Lbctl-Message`` and ``X-Lbctl-Author`` (when not empty,
    as UTF-8 bytes: the agent reads them back as UTF-8, so ``-m "déploiement"`` survives)."""
    headers = {"If-Match": f'"{if_match}"'.encode()} if if_match is not None else {}
    for name, value in (("X-Lbctl-Message", message), ("X-Lbctl-Author", author)):
        if value:
            headers[name] = " ".join(value.split()).encode("utf-8")
    return headers


def _class_for(body: dict[str, Any], status: int) -> type[E.LbctlError]:
    named = getattr(E, str(body.get("error", "")), None)
    if isinstance(named, type) and issubclass(named, E.LbctlError) and named.http_status == status:
        return named
    if status == 422:
        if "diagnostics" in body:
            return E.ConfigRejected
        return E.ParseError if "column" in body else E.SpecError
    return _BY_STATUS.get(status, E.AgentError)


def error_from_problem(status: int, body: dict[str, Any]) -> E.LbctlError:
    """Rebuild the error an agent answered as problem+json (``body``) with HTTP ``status``.

    The message is the body's ``detail``; field errors, diagnostics, ``output`` and
    ``current_version`` are carried over to the matching attributes.
    """
    cls = _class_for(body, status)
    detail = str(body.get("detail") or body.get("title") or f"HTTP {status}")
    err: E.LbctlError
    if issubclass(cls, E.SpecError):
        errors = [E.FieldError(str(e.get("loc", "")), str(e.get("message", "")))
                  for e in body.get("errors") or [] if isinstance(e, dict)]
        if issubclass(cls, E.PolicyRefused):
            items = [e for e in body.get("errors") or [] if isinstance(e, dict)]
            err = E.PolicyRefused(errors or [E.FieldError("", detail)],
                                  [str(e.get("directive", "")) for e in items])
        else:
            err = cls(errors or [E.FieldError("", detail)])
    elif issubclass(cls, E.ConfigRejected):
        diags = [E.Diagnostic(str(d.get("severity", "alert")), str(d.get("message", "")),
                              d.get("line"), d.get("text"), d.get("field"))
                 for d in body.get("diagnostics") or [] if isinstance(d, dict)]
        err = cls(diags, str(body.get("output", "")))
    elif issubclass(cls, E.ParseError):
        err = cls(str(body.get("reason", detail)), int(body.get("line") or 0),
                  int(body.get("column") or 0))
    elif issubclass(cls, E.VersionConflict):
        err = cls(None, int(body.get("current_version", -1)))
    elif issubclass(cls, E.HAProxyError):
        err = cls(detail, str(body.get("output", "")))
    else:
        err = cls(detail)
    err.message = detail
    err.args = (detail,)
    return err


class AgentClient:
    """Calls the agent at ``url`` with ``token``; use as a context manager or :meth:`close`.

    ``timeout`` is in seconds (an apply renders, runs ``haproxy -c`` and reloads: allow
    tens of seconds for large specs). Every method raises an :class:`LbctlError`.
    """

    def __init__(
        self, url: str | None = None, token: str | None = None, *, timeout: float = 120.0
    ) -> None:
        self.url = (url or os.environ.get(ENV_URL) or DEFAULT_URL).rstrip("/")
        self.token = resolve_token(token)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,),
                 **kwargs: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise E.AgentError(f"cannot reach the agent at {self.url}: {exc}") from exc
        ctype = resp.headers.get("content-type", "")
        if resp.status_code in ok and "problem+json" not in ctype:
            return resp
        body: Any = None
        if "json" in ctype:
            try:
                body = resp.json()
            except ValueError:
                body = None
        if isinstance(body, dict) and "problem+json" in ctype:
            err = error_from_problem(resp.status_code, body)
            if isinstance(err, E.AuthError) and not self.token:
                err.message = f"{err.message} (set LBCTL_TOKEN or pass --token)"
                err.args = (err.message,)
            raise err
        raise E.AgentError(
            f"{method} {self.url}{path} answered HTTP {resp.status_code}: {resp.text[:200]}"
        )

    def _json(self, resp: httpx.Response) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError as exc:
            raise E.AgentError(f"the agent at {self.url} answered non-JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise E.AgentError(f"the agent at {self.url} answered {type(data).__name__}, not an object")
        return data

    def get_config(self) -> tuple[int, dict[str, Any]]:
        """``(version, spec document)`` of the agent's current spec."""
        data = self._json(self._request("GET", "/api/v1/config"))
        return int(data["version"]), dict(data["spec"])

    def put_config(
        self, spec: Spec, *, if_match: int, message: str = "", author: str = ""
    ) -> dict[str, Any]:
        """Apply ``spec`` over version ``if_match``; the agent's ``ApplyResult`` dict."""
        resp = self._request("PUT", "/api/v1/config", json=spec.to_data(),
                             headers=_write_headers(if_match, message, author))
        return self._json(resp)

    def validate(self, spec: Spec) -> dict[str, Any]:
        """Dry run on the agent: ``{"ok", "diagnostics", "config"}``."""
        return self._json(self._request("POST", "/api/v1/config/validate", json=spec.to_data()))

    def config_source(self) -> str:
        """The live haproxy.cfg text."""
        return self._request("GET", "/api/v1/config/source").text

    def put_source(self, text: str, *, if_match: int | None, dry_run: bool = False,
                   message: str = "", author: str = "") -> dict[str, Any]:
        """Send a haproxy.cfg text to the source view: apply it over ``if_match`` (the
        ``ApplyResult`` dict), or with ``dry_run`` only check it (``{"ok", "diagnostics",
        "config", "spec", "changed"}``)."""
        headers = {"Content-Type": b"text/plain; charset=utf-8",
                   **_write_headers(if_match, message, author)}
        return self._json(self._request("PUT", "/api/v1/config/source", content=text.encode(),
                                        params={"dry_run": "true"} if dry_run else None,
                                        headers=headers))

    def plan(self, spec: Spec | None = None, *, source: str | None = None) -> dict[str, Any]:
        """What applying ``spec`` (or the haproxy.cfg text ``source``) would change:
        ``{"version", "changed", "diff", "summary", "config"}``."""
        if source is not None:
            resp = self._request("POST", "/api/v1/config/plan", content=source.encode(),
                                 headers={"Content-Type": "text/plain; charset=utf-8"})
        else:
            assert spec is not None
            resp = self._request("POST", "/api/v1/config/plan", json=spec.to_data())
        return self._json(resp)

    def health(self) -> dict[str, Any]:
        """The health report; a 503 with a report (not a problem) is returned, not raised."""
        return self._json(self._request("GET", "/api/v1/health", ok=(200, 503)))

    def status(self) -> dict[str, Any]:
        """HAProxy process status, binary, state dir and spec version."""
        return self._json(self._request("GET", "/api/v1/haproxy"))

    def reload(self, *, message: str = "", author: str = "") -> dict[str, Any]:
        """Reload HAProxy now; the reload result."""
        return self._json(self._request("POST", "/api/v1/haproxy/reload",
                                        headers=_write_headers(None, message, author)))

    def versions(self, *, limit: int = 50, before: int | None = None) -> dict[str, Any]:
        """A page of the history, newest first: ``{"entries": [...], "next_before"}``."""
        params: dict[str, int] = {"limit": limit}
        if before is not None:
            params["before"] = before
        return self._json(self._request("GET", "/api/v1/config/versions", params=params))

    def version(self, version: int) -> dict[str, Any]:
        """History entry of ``version`` with ``spec`` and ``config``; :class:`NotFound`."""
        return self._json(self._request("GET", f"/api/v1/config/versions/{int(version)}"))

    def rollback(
        self, version: int, *, if_match: int, message: str = "", author: str = ""
    ) -> dict[str, Any]:
        """Apply ``version``'s spec again over ``if_match``; the agent's ``ApplyResult`` dict."""
        return self._json(self._request(
            "POST", f"/api/v1/config/versions/{int(version)}/rollback",
            headers=_write_headers(if_match, message, author)))

    def set_server(
        self, backend: str, server: str, *, if_match: int, state: str | None = None,
        weight: int | None = None, author: str = "",
    ) -> dict[str, Any]:
        """Set ``backend``/``server``'s state and/or weight at runtime over version
        ``if_match``: ``{"version", "changed", "server": {...read back...}}``."""
        body = {k: v for k, v in (("state", state), ("weight", weight)) if v is not None}
        headers = _write_headers(if_match, "", author)
        path = f"/api/v1/backends/{quote(backend, safe='')}/servers/{quote(server, safe='')}/state"
        return self._json(self._request("PUT", path, json=body, headers=headers))

    def clients(self) -> dict[str, Any]:
        """Rate-limit counters per client: ``{"clients": [...], "checked_at"}``."""
        return self._json(self._request("GET", "/api/v1/clients"))

    def clear_client(self, name: str, frontend: str | None = None) -> dict[str, Any]:
        """Clear client ``name``'s counters: ``{"cleared": [...]}``."""
        params = {"frontend": frontend} if frontend else None
        path = f"/api/v1/clients/{quote(name, safe='')}/counters"
        return self._json(self._request("DELETE", path, params=params))
