"""The CLI's view of the agent: :class:`AgentClient`, plain dicts, every error raised.

A thin layer over :class:`lbctl.client.Client` (one HTTP path): each method sends the same
call, raises the agent's problem as its :mod:`lbctl.errors` class
(:meth:`lbctl.client.Result.raise_for_problem`) and answers the JSON document as a dict.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from lbctl import errors as E
from lbctl.client._calls import Call, calls
from lbctl.client._client import Client
from lbctl.spec import Spec

__all__ = ["AgentClient"]


class AgentClient:
    """Calls the agent at ``url`` with ``token``; use as a context manager or :meth:`close`.
    Every method raises an :class:`LbctlError`."""

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 120.0) -> None:
        self.client = Client(url, token, timeout=timeout)
        self.url = self.client.url
        self.token = self.client.token

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _run(self, call: Call) -> Any:
        result = self.client.send(call)
        try:
            result.raise_for_problem()
        except E.AuthError as err:
            if not self.token:
                err.message = f"{err.message} (set LBCTL_TOKEN or pass --token)"
                err.args = (err.message,)
            raise
        if call.model is str:
            return result.inner.text
        data = result.inner.json()
        if not isinstance(data, dict):
            raise E.AgentError(f"the agent at {self.url} answered {type(data).__name__}, "
                               "not an object")
        return data

    def get_config(self) -> tuple[int, dict[str, Any]]:
        """``(version, spec document)`` of the agent's current spec."""
        data = self._run(Call("GET", "/api/v1/config", dict))
        return int(data["version"]), dict(data["spec"])

    def put_config(self, spec: Spec, *, if_match: int, message: str = "", author: str = "",
                   allow_empty: bool = False) -> dict[str, Any]:
        """Apply ``spec`` over version ``if_match``; the agent's ``ApplyResult`` dict."""
        return dict(self._run(calls.put_config(spec, if_match, message=message, author=author,
                                               allow_empty=allow_empty)))

    def validate(self, spec: Spec) -> dict[str, Any]:
        """Dry run on the agent: ``{"ok", "diagnostics", "config"}``."""
        return dict(self._run(calls.validate(spec)))

    def config_source(self) -> str:
        """The live haproxy.cfg text."""
        return str(self._run(calls.config_source()))

    def put_source(self, text: str, *, if_match: int | None, dry_run: bool = False,
                   message: str = "", author: str = "", allow_empty: bool = False) -> dict[str, Any]:
        """Send a haproxy.cfg text to the source view (apply, or ``dry_run``)."""
        return dict(self._run(calls.put_source(text, if_match, dry_run=dry_run, message=message,
                                               author=author, allow_empty=allow_empty)))

    def plan(self, spec: Spec | None = None, *, source: str | None = None) -> dict[str, Any]:
        """What applying ``spec`` (or the haproxy.cfg text ``source``) would change."""
        return dict(self._run(calls.plan(spec, source)))

    def health(self) -> dict[str, Any]:
        """The health report; a 503 with a report (not a problem) is returned, not raised."""
        return dict(self._run(calls.health()))

    def status(self) -> dict[str, Any]:
        """HAProxy process status, binary, state dir and spec version."""
        return dict(self._run(calls.status()))

    def reload(self, *, message: str = "", author: str = "") -> dict[str, Any]:
        """Reload HAProxy now; the reload result."""
        return dict(self._run(calls.reload(message, author)))

    def versions(self, *, limit: int = 50, before: int | None = None) -> dict[str, Any]:
        """A page of the history, newest first: ``{"entries": [...], "next_before"}``."""
        return dict(self._run(calls.versions(limit, before)))

    def version(self, version: int) -> dict[str, Any]:
        """History entry of ``version`` with ``spec`` and ``config``; :class:`NotFound`."""
        return dict(self._run(calls.version(version)))

    def rollback(self, version: int, *, if_match: int, message: str = "", author: str = "",
                 allow_empty: bool = False) -> dict[str, Any]:
        """Apply ``version``'s spec again over ``if_match``."""
        return dict(self._run(calls.rollback(version, if_match, message=message, author=author,
                                             allow_empty=allow_empty)))

    def set_server(self, backend: str, server: str, *, if_match: int, state: str | None = None,
                   weight: int | None = None, author: str = "") -> dict[str, Any]:
        """Set ``backend``/``server``'s state and/or weight at runtime over ``if_match``."""
        return dict(self._run(calls.set_server(backend, server, if_match, state=state,
                                               weight=weight, author=author)))

    def fleet(self) -> dict[str, Any]:
        """The fleet as the agent sees it (``mode`` ``single`` without ``--fleet``)."""
        return dict(self._run(calls.fleet()))

    def clients(self) -> dict[str, Any]:
        """Rate-limit counters per client."""
        return dict(self._run(calls.clients()))

    def clear_client(self, name: str, frontend: str | None = None) -> dict[str, Any]:
        """Clear client ``name``'s counters."""
        return dict(self._run(calls.clear_client(name, frontend)))

    def certificates(self) -> dict[str, Any]:
        """The certificate store: ``{"certificates": [...], "used_by": {name: [fields]}}``."""
        return dict(self._run(calls.list_certificates()))

    def put_certificate(self, name: str, pem: bytes, *, if_match: int, message: str = "",
                        author: str = "") -> dict[str, Any]:
        """Keep ``pem`` as store object ``name`` over ``if_match``; the outcome dict."""
        return dict(self._run(calls.put_certificate(name, pem, if_match, message=message,
                                                    author=author)))

    def delete_certificate(self, name: str, *, if_match: int, message: str = "",
                           author: str = "") -> dict[str, Any]:
        """Remove store object ``name`` over ``if_match``; the outcome dict."""
        return dict(self._run(calls.delete_certificate(name, if_match, message=message,
                                                       author=author)))
