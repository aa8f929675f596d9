"""The typed clients of the agent: :class:`Client` (sync) and :class:`AsyncClient` (async).

Both send the :class:`lbctl.client._calls.Call` of each operation over httpx and answer a
:class:`lbctl.client.Result`; neither raises for an error the agent answered (a 412, a 422:
see ``result.details``, or ``result.raise_for_problem()``), only
:class:`lbctl.errors.AgentError` when the agent cannot be reached or answers something that is
not its contract. Writes take ``if_match``: the version they edit (``None``: the version
read just before, a last-writer-wins write; :meth:`Client.update` is the safe loop).

Size: over 300 lines because :class:`Client` and :class:`AsyncClient` mirror each other
operation by operation; keeping both side by side keeps them in step.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx

from lbctl import errors as E
from lbctl.client import cert_models as C
from lbctl.client import models as M
from lbctl.client import token_models as TM
from lbctl.client._calls import Call, Result, calls, result_of
from lbctl.client.problems import DEFAULT_URL, ENV_URL, resolve_token
from lbctl.spec import Spec

__all__ = ["AsyncClient", "Client"]

#: How often :meth:`Client.wait` polls an operation, in seconds.
POLL_S = 0.1


def _base(url: str | None, token: str | None, timeout: float) -> dict[str, Any]:
    base = (url or os.environ.get(ENV_URL) or DEFAULT_URL).rstrip("/")
    token = resolve_token(token)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return {"base_url": base, "headers": headers, "timeout": timeout}


def _spec_of(result: Result[M.ConfigDocument]) -> tuple[int, Spec]:
    doc = result.unwrap()
    return doc.version, doc.spec


class Client:
    """The agent at ``url`` (``$LBCTL_URL``, default ``http://127.0.0.1:9900``) with
    ``token`` (``$LBCTL_TOKEN``, the state dir's token file); ``timeout`` in seconds (an
    apply renders, runs ``haproxy -c`` and reloads). A context manager."""

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 120.0, transport: httpx.BaseTransport | None = None) -> None:
        opts = _base(url, token, timeout)
        self.url: str = opts["base_url"]
        self.token: str | None = resolve_token(token)
        self._http = httpx.Client(transport=transport, **opts)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def send(self, call: Call) -> Result[Any]:
        """Send ``call``: the one HTTP path of the client (and of the CLI)."""
        try:
            resp = self._http.send(call.request(self._http))
        except httpx.HTTPError as exc:
            raise E.AgentError(f"cannot reach the agent at {self.url}: {exc}") from exc
        return result_of(resp, call.model, call.also)

    def _current(self, if_match: int | None) -> int:
        return if_match if if_match is not None else _spec_of(self.get_config())[0]

    # -- the spec -------------------------------------------------------------------------
    def get_config(self) -> Result[M.ConfigDocument]:
        """The current spec and its version."""
        return self.send(calls.get_config())

    def apply(self, spec: Spec, *, if_match: int | None = None, message: str = "",
              author: str = "", allow_empty: bool = False) -> Result[M.ApplyOutcome]:
        """Apply ``spec`` over ``if_match`` and wait for the outcome."""
        return self.send(calls.put_config(spec, self._current(if_match), message=message,
                                          author=author, allow_empty=allow_empty))

    def apply_async(self, spec: Spec, *, if_match: int | None = None, message: str = "",
                    author: str = "", allow_empty: bool = False) -> str:
        """Start applying ``spec`` (``?wait=false``); the operation id. Raises the problem."""
        op: M.Operation = self.send(calls.put_config(
            spec, self._current(if_match), message=message, author=author,
            allow_empty=allow_empty, wait=False)).unwrap()
        return op.id

    def operation(self, op_id: str) -> Result[M.Operation]:
        """Operation ``op_id``: pending, succeeded (``result``) or failed (``problem``)."""
        return self.send(calls.operation(op_id))

    def wait(self, op_id: str, *, timeout: float = 120.0) -> Result[M.Operation]:
        """Poll operation ``op_id`` until it is done; :class:`AgentError` after ``timeout``
        seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.operation(op_id)
            if result.data is None or result.data.status != "pending":
                return result
            if time.monotonic() > deadline:
                raise E.AgentError(f"operation {op_id} still pending after {timeout} s")
            time.sleep(POLL_S)

    def update(self, fn: Callable[[Spec], Spec], *, retries: int = 5, message: str = "",
               author: str = "", allow_empty: bool = False) -> Result[M.ApplyOutcome]:
        """Read → ``fn(spec)`` → write with ``If-Match``; on a 412 (another writer won) read
        again and call ``fn`` on the new spec, up to ``retries`` more times. Never overwrites
        another writer's change. The last result (a 412 after the last retry)."""
        for _ in range(retries + 1):
            version, spec = _spec_of(self.get_config())
            result = self.send(calls.put_config(fn(spec), version, message=message,
                                                author=author, allow_empty=allow_empty))
            if result.status_code != 412:
                return result
        return result

    def validate(self, spec: Spec) -> Result[M.ValidateOutcome]:
        """Dry run: render and ``haproxy -c``; nothing changes."""
        return self.send(calls.validate(spec))

    def plan(self, spec: Spec | None = None, *, source: str | None = None) -> Result[M.PlanOutcome]:
        """What applying ``spec`` (or the haproxy.cfg text ``source``) would change."""
        return self.send(calls.plan(spec, source))

    def config_source(self) -> Result[str]:
        """The live haproxy.cfg."""
        return self.send(calls.config_source())

    def put_source(self, text: str, *, if_match: int | None = None, dry_run: bool = False,
                   message: str = "", author: str = "", allow_empty: bool = False) -> Result[Any]:
        """The source view: apply ``text`` (:class:`ApplyOutcome`) or check it
        (``dry_run``: :class:`SourceCheck`)."""
        base = if_match if dry_run else self._current(if_match)
        return self.send(calls.put_source(text, base, dry_run=dry_run, message=message,
                                          author=author, allow_empty=allow_empty))

    # -- history --------------------------------------------------------------------------
    def versions(self, *, limit: int = 50, before: int | None = None) -> Result[M.HistoryPage]:
        """A page of the history, newest first."""
        return self.send(calls.versions(limit, before))

    def version(self, version: int) -> Result[M.HistoryEntryWithBodies]:
        """The entry that made ``version``."""
        return self.send(calls.version(version))

    def entry(self, entry_id: int) -> Result[M.HistoryEntryWithBodies]:
        """History entry ``entry_id``."""
        return self.send(calls.entry(entry_id))

    def rollback(self, version: int, *, if_match: int | None = None, message: str = "",
                 author: str = "", allow_empty: bool = False) -> Result[M.ApplyOutcome]:
        """Apply ``version``'s spec again, as a new version."""
        return self.send(calls.rollback(version, self._current(if_match), message=message,
                                        author=author, allow_empty=allow_empty))

    # -- runtime --------------------------------------------------------------------------
    def set_server(self, backend: str, server: str, *, state: str | None = None,
                   weight: int | None = None, if_match: int | None = None, message: str = "",
                   author: str = "") -> Result[M.ServerOutcome]:
        """Set a server's state and/or weight at runtime (no reload), as a new version."""
        return self.send(calls.set_server(backend, server, self._current(if_match), state=state,
                                          weight=weight, message=message, author=author))

    def drain(self, backend: str, server: str, *, retries: int = 5,
              message: str = "") -> Result[M.ServerOutcome]:
        """Drain ``backend``/``server`` (no new traffic), retrying on 412."""
        for _ in range(retries + 1):
            result = self.set_server(backend, server, state="drain", message=message)
            if result.status_code != 412:
                return result
        return result

    def health(self) -> Result[M.HealthReport]:
        """The health report (``ok`` false with ``data`` on a 503)."""
        return self.send(calls.health())

    def status(self) -> Result[M.HAProxyStatus]:
        """HAProxy process status, binary, state dir, spec version and host policy."""
        return self.send(calls.status())

    def reload(self, *, message: str = "", author: str = "") -> Result[M.ReloadOutcome]:
        """Reload HAProxy with the live config."""
        return self.send(calls.reload(message, author))

    def clients(self) -> Result[M.ClientsReport]:
        """Rate-limit counters per client."""
        return self.send(calls.clients())

    def fleet(self) -> Result[M.FleetStatus]:
        """The fleet as the agent sees it (``mode`` ``single`` without ``--fleet``)."""
        return self.send(calls.fleet())

    def clear_client(self, name: str, frontend: str | None = None) -> Result[M.ClearedCounters]:
        """Clear client ``name``'s counters."""
        return self.send(calls.clear_client(name, frontend))

    # -- the certificate store ------------------------------------------------------------
    def certificates(self) -> Result[C.CertificateList]:
        """Every certificate and CA of the store (never a key), and the spec fields using each."""
        return self.send(calls.list_certificates())

    def certificate(self, name: str) -> Result[C.Certificate]:
        """Store object ``name``."""
        return self.send(calls.get_certificate(name))

    def put_certificate(self, name: str, pem: bytes, *, if_match: int | None = None,
                        message: str = "", author: str = "") -> Result[C.CertificateOutcome]:
        """Keep the PEM bundle ``pem`` as ``name`` (replaced live when the spec uses it)."""
        return self.send(calls.put_certificate(name, pem, self._current(if_match),
                                               message=message, author=author))

    def delete_certificate(self, name: str, *, if_match: int | None = None, message: str = "",
                           author: str = "") -> Result[C.CertificateOutcome]:
        """Remove ``name`` (refused, 422, while the spec uses it)."""
        return self.send(calls.delete_certificate(name, self._current(if_match),
                                                  message=message, author=author))

    # -- tokens (admin) and the audit trail (operator) ------------------------------------
    def tokens(self) -> Result[TM.TokenList]:
        """The named tokens (never a secret) and the bootstrap token."""
        return self.send(calls.list_tokens())

    def create_token(self, name: str, role: str, *, message: str = "",
                     author: str = "") -> Result[TM.TokenCreated]:
        """A new token ``name`` with ``role``; ``data.token`` is its secret, shown only here."""
        return self.send(calls.create_token(name, role, message=message, author=author))

    def revoke_token(self, name: str, *, message: str = "",
                     author: str = "") -> Result[TM.TokenRevoked]:
        """Revoke ``name``: refused from the next request on, its UI sessions ended."""
        return self.send(calls.revoke_token(name, message=message, author=author))

    def audit(self, *, limit: int = 50, before: int | None = None) -> Result[TM.AuditPage]:
        """A page of the audit trail, newest first."""
        return self.send(calls.audit(limit, before))


class AsyncClient:
    """:class:`Client` for asyncio: the same calls, each a coroutine."""

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 120.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        opts = _base(url, token, timeout)
        self.url: str = opts["base_url"]
        self._http = httpx.AsyncClient(transport=transport, **opts)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, t: type[BaseException] | None, v: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def send(self, call: Call) -> Result[Any]:
        """Send ``call`` (:meth:`Client.send`)."""
        try:
            resp = await self._http.send(call.request(self._http))
        except httpx.HTTPError as exc:
            raise E.AgentError(f"cannot reach the agent at {self.url}: {exc}") from exc
        return result_of(resp, call.model, call.also)

    async def _current(self, if_match: int | None) -> int:
        return if_match if if_match is not None else _spec_of(await self.get_config())[0]

    async def get_config(self) -> Result[M.ConfigDocument]:
        """:meth:`Client.get_config`."""
        return await self.send(calls.get_config())

    async def apply(self, spec: Spec, *, if_match: int | None = None, message: str = "",
                    author: str = "", allow_empty: bool = False) -> Result[M.ApplyOutcome]:
        """:meth:`Client.apply`."""
        return await self.send(calls.put_config(spec, await self._current(if_match),
                                                message=message, author=author,
                                                allow_empty=allow_empty))

    async def apply_async(self, spec: Spec, *, if_match: int | None = None, message: str = "",
                          author: str = "", allow_empty: bool = False) -> str:
        """:meth:`Client.apply_async`."""
        result = await self.send(calls.put_config(spec, await self._current(if_match),
                                                  message=message, author=author,
                                                  allow_empty=allow_empty, wait=False))
        op: M.Operation = result.unwrap()
        return op.id

    async def operation(self, op_id: str) -> Result[M.Operation]:
        """:meth:`Client.operation`."""
        return await self.send(calls.operation(op_id))

    async def wait(self, op_id: str, *, timeout: float = 120.0) -> Result[M.Operation]:
        """:meth:`Client.wait`."""
        deadline = time.monotonic() + timeout
        while True:
            result = await self.operation(op_id)
            if result.data is None or result.data.status != "pending":
                return result
            if time.monotonic() > deadline:
                raise E.AgentError(f"operation {op_id} still pending after {timeout} s")
            await asyncio.sleep(POLL_S)

    async def update(self, fn: Callable[[Spec], Spec], *, retries: int = 5, message: str = "",
                     author: str = "", allow_empty: bool = False) -> Result[M.ApplyOutcome]:
        """:meth:`Client.update`."""
        for _ in range(retries + 1):
            version, spec = _spec_of(await self.get_config())
            result = await self.send(calls.put_config(fn(spec), version, message=message,
                                                      author=author, allow_empty=allow_empty))
            if result.status_code != 412:
                return result
        return result

    async def set_server(self, backend: str, server: str, *, state: str | None = None,
                         weight: int | None = None, if_match: int | None = None,
                         message: str = "", author: str = "") -> Result[M.ServerOutcome]:
        """:meth:`Client.set_server`."""
        return await self.send(calls.set_server(backend, server, await self._current(if_match),
                                                state=state, weight=weight, message=message,
                                                author=author))

    async def health(self) -> Result[M.HealthReport]:
        """:meth:`Client.health`."""
        return await self.send(calls.health())

    async def status(self) -> Result[M.HAProxyStatus]:
        """:meth:`Client.status`."""
        return await self.send(calls.status())
