"""``lbctl plan``: what applying a spec (or a haproxy.cfg) would change, before applying it.

The agent renders it for its HAProxy and compares it with the current version and the live
file (``POST /api/v1/config/plan``, :mod:`lbctl.control.plan`); the command prints the summary and
the unified diff, coloured (rich). Exit codes, like ``terraform plan -detailed-exitcode``:

* ``0`` — nothing would change (same spec, same bytes);
* ``2`` — something would (a new version, a reload);
* an error goes through the one error → exit-code mapping (:func:`lbctl.cli.report_error`):
  ``1`` for an invalid spec, an unreadable file or a source import cannot place, ``5`` auth,
  ``8`` agent unreachable ... — but never ``2``: that mapping gives ``2`` to
  :class:`~lbctl.errors.PreconditionRequired` (a write without ``If-Match``, which a plan
  never makes), so this command turns such an exit code into ``1``. Its own exit code is set
  here explicitly, not by the mapping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lbctl.cli.errors import EXIT_CHANGES, EXIT_OK, report_error
from lbctl.cli.options import JsonOpt, agent_client, console
from lbctl.errors import FileUnreadable, LbctlError

__all__ = ["plan", "register"]
_MARKS = (("added", "+", "green"), ("changed", "~", "yellow"), ("removed", "-", "red"))
_DIFF_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


def _summary_lines(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """``(text, style)`` lines of a plan's summary."""
    from lbctl.control.plan import KINDS

    out: list[tuple[str, str]] = []
    for kind in KINDS:
        group = summary.get(kind) or {}
        for what, mark, style in _MARKS:
            for name in group.get(what) or []:
                out.append((f"  {mark} {kind[:-1]} {name}", style))
    for part in summary.get("settings") or []:
        out.append((f"  ~ {part}", "yellow"))
    return out


def _counts(summary: dict[str, Any]) -> str:
    totals = {what: sum(len((summary.get(k) or {}).get(what) or []) for k in summary
                        if isinstance(summary.get(k), dict)) for what, _, _ in _MARKS}
    totals["changed"] += len(summary.get("settings") or [])
    return ", ".join(f"{totals[w]} {w}" for w, _, _ in _MARKS)


def _print_plan(result: dict[str, Any], name: str) -> None:
    from rich.text import Text


    out = console()
    if not result.get("changed"):
        out.print(Text(f"No changes: version {result.get('version')} already runs {name}.",
                       style="green"))
        return
    out.print(Text(f"Plan over version {result.get('version')}: "
                   f"{_counts(result.get('summary') or {})}", style="bold"))
    for text, style in _summary_lines(result.get("summary") or {}):
        out.print(Text(text, style=style))
    diff = str(result.get("diff") or "")
    if not diff:
        out.print("  (the rendered haproxy.cfg is the same: only the spec changes)")
        return
    out.print()
    for line in diff.splitlines():
        style = next((s for prefix, s in _DIFF_STYLES if line.startswith(prefix)), "")
        out.print(Text(line, style=style))


def plan(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="A spec (YAML or JSON), or a haproxy.cfg with "
                                         "--source (or a name ending in .cfg).",
                                         dir_okay=False, show_default=False)],
    source: Annotated[bool, typer.Option("--source", help="SPEC is a haproxy.cfg text.")
                      ] = False,
    as_json: JsonOpt = False,
) -> None:
    """What applying SPEC would change: summary and unified diff against the live config.

    Exit 0 when nothing would change, 10 when something would, another code of
    `lbctl exit-codes` on error (1 for an invalid spec).
    """
    try:
        with agent_client(ctx) as client:
            if source or spec.suffix == ".cfg":
                try:
                    text = spec.read_text(encoding="utf-8")
                except (OSError, UnicodeError) as exc:
                    raise FileUnreadable(f"cannot read {spec}: {exc}") from None
                result = client.plan(source=text)
            else:
                from lbctl.spec import load_spec

                result = client.plan(load_spec(spec))
    except LbctlError as err:
        code = report_error(err)
        raise typer.Exit(code) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print_plan(result, str(spec))
    raise typer.Exit(EXIT_CHANGES if result.get("changed") else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add ``plan`` to the main ``lbctl`` app."""
    app.command("plan")(plan)
