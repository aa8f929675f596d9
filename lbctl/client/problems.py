"""Problem+json back into :mod:`lbctl.errors`, and where the client finds the agent and token.

The agent is at ``$LBCTL_URL`` (default ``http://127.0.0.1:9900``); the token comes from the
argument, ``$LBCTL_TOKEN``, or the state dir's token file (``$LBCTL_STATE_DIR/token``,
default ``./.lbctl/token``). A problem+json answer is rebuilt as the same
:class:`lbctl.errors.LbctlError` subclass the agent raised (by the ``error`` member, else by
status: 422 → :class:`SpecError` / :class:`ConfigRejected` / :class:`ParseError`, 412, 428,
401, 409, 503 → their classes, anything else → :class:`AgentError`), so the CLI's exit codes
match the agent's errors.
"""

from __future__ import annotations

import os
from typing import Any

from lbctl import errors as E
from lbctl.state.store import StateDir, resolve_state_dir

__all__ = ["DEFAULT_URL", "ENV_TOKEN", "ENV_URL", "error_from_problem", "resolve_token"]

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
        if issubclass(cls, E.UnsupportedOnTarget):
            err = E.UnsupportedOnTarget(errors or [E.FieldError("", detail)],
                                        str(body.get("target_version", "")))
        elif issubclass(cls, E.PolicyRefused):
            items = [e for e in body.get("errors") or [] if isinstance(e, dict)]
            err = E.PolicyRefused(errors or [E.FieldError("", detail)],
                                  [str(e.get("directive", "")) for e in items])
        else:
            err = cls(errors or [E.FieldError("", detail)])
    elif issubclass(cls, E.ConfigRejected):
        nodes: dict[str, Any] = body["nodes"] if isinstance(body.get("nodes"), dict) else {}
        diags = [E.Diagnostic(str(d.get("severity", "alert")), str(d.get("message", "")),
                              d.get("line"), d.get("text"), d.get("field"))
                 for d in body.get("diagnostics") or [] if isinstance(d, dict)]
        err = (E.FleetRefused(diags, str(body.get("output", "")),
                              {str(k): str(v) for k, v in nodes.items()})
               if issubclass(cls, E.FleetRefused) else cls(diags, str(body.get("output", ""))))
    elif issubclass(cls, E.ParseError):
        err = cls(str(body.get("reason", detail)), int(body.get("line") or 0),
                  int(body.get("column") or 0))
    elif issubclass(cls, E.VersionConflict):
        err = cls(None, int(body.get("current_version", -1)))
    elif issubclass(cls, E.ConfirmationRequired):
        err = cls([str(r) for r in body.get("reasons") or [detail]])
    elif issubclass(cls, E.FleetUnavailable):
        err = cls(detail, str(body.get("etcd", "")))
    elif issubclass(cls, E.HAProxyError):
        err = cls(detail, str(body.get("output", "")))
    else:
        err = cls(detail)
    err.message = detail
    err.args = (detail,)
    return err
