"""The one error → exit-code mapping of the ``lbctl`` command, and the table of every code.

Each code means one thing. :data:`EXIT_CODES` is the table (``lbctl exit-codes`` and the README
print it); the codes of :class:`~lbctl.errors.LbctlError` subclasses are their ``exit_code``
class attributes, so :func:`report_error` needs no table of its own and a test checks that the
two agree.
"""

from __future__ import annotations

from rich.text import Text

from lbctl import errors as E
from lbctl.cli.options import console, diagnostic_lines

__all__ = ["EXIT_CHANGES", "EXIT_CODES", "EXIT_OK", "EXIT_USAGE", "report_error"]

#: Success (``plan``: nothing would change).
EXIT_OK = 0
#: A usage error: unknown option, missing argument (click's convention).
EXIT_USAGE = 2
#: ``lbctl plan``: the plan has changes (nothing failed).
EXIT_CHANGES = 10

#: ``(code, meaning, error classes)``: every exit code of ``lbctl``, each with one meaning.
EXIT_CODES: tuple[tuple[int, str, tuple[type[E.LbctlError], ...]], ...] = (
    (EXIT_OK, "success; for `plan`: nothing would change", ()),
    (1, "the spec or config is invalid (field errors, parse errors, `haproxy -c`, render), "
        "or a name is taken (a token)",
     (E.SpecError, E.PolicyRefused, E.InvalidRequest, E.UnreadableBody, E.UnsupportedOnTarget,
      E.ParseError, E.ConfigRejected, E.FleetRefused, E.RenderError, E.NameTaken)),
    (EXIT_USAGE, "usage error: unknown option or command, missing argument", ()),
    (3, "`If-Match` names a stale version; nothing was changed", (E.VersionConflict,)),
    (4, "no such backend, server, client, version, token or certificate", (E.NotFound,)),
    (5, "authentication or role: missing or wrong token, role not sufficient",
     (E.AuthError, E.Forbidden, E.CsrfRefused)),
    (6, "the HAProxy side failed: no binary, not running, start / reload / runtime API",
     (E.HAProxyError, E.BinaryNotFound, E.HAProxyUnavailable, E.ProcessError, E.ReloadFailed,
      E.RuntimeAPIError, E.CommandRefused)),
    (7, "the state dir or the history could not be read or written", (E.StoreError,)),
    (8, "the CLI could not talk to the agent", (E.AgentError,)),
    (9, "a write without `If-Match`: every write must name the version it edits",
     (E.PreconditionRequired,)),
    (EXIT_CHANGES, "`plan`: applying would change something", ()),
    (11, "the write would leave no listener or empty a backend in use; confirm it with "
         "`?allow_empty=true` (API) or `--allow-empty` (CLI)", (E.ConfirmationRequired,)),
    (12, "the agent is busy: too many pings in flight; try again in a moment", (E.Busy,)),
    (13, "the fleet's store (etcd) cannot be reached: no fleet write was made",
     (E.FleetUnavailable,)),
    (14, "a file named on the command line cannot be read (missing, a directory, no "
         "permission)", (E.FileUnreadable,)),
    (15, "`lbctl serve` cannot listen: the port is taken (the message names by what)",
     (E.ListenError,)),
)


def report_error(err: E.LbctlError) -> int:
    """Print ``TypeName: message`` and the details of ``err`` (every field error, every
    HAProxy diagnostic, one per line) to stderr; return its exit code (the class's
    ``exit_code``, see :data:`EXIT_CODES`)."""
    lines = [f"{type(err).__name__}: {err}"]
    if isinstance(err, E.SpecError) and len(err.errors) > 1:
        lines += [f"  - {e}" for e in err.errors]
    elif isinstance(err, E.ConfigRejected):
        for d in err.diagnostics:
            lines += diagnostic_lines(d)
    err_console = console(stderr=True)
    err_console.print(Text(lines[0], style="bold red"))
    for line in lines[1:]:
        err_console.print(line)
    return type(err).exit_code
