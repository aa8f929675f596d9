"""History commands of the ``lbctl`` CLI, through the agent: ``history``, ``show``, ``diff``,
``rollback`` (:mod:`lbctl.api.versions`). Registered on the main app by :func:`register`;
errors go through the one error → exit-code mapping of :mod:`lbctl.cli` (an unknown version
is :class:`lbctl.errors.NotFound`, exit 4).
"""

from __future__ import annotations

import difflib
import json
import time
from typing import Annotated, Any

import typer
import yaml

from lbctl.cli.options import (
    AllowEmptyOpt,
    IfMatchOpt,
    JsonOpt,
    MessageOpt,
    agent_client,
    author,
    console,
)

__all__ = ["diff", "history", "register", "rollback", "show", "unified_diff"]

VersionArg = Annotated[int, typer.Argument(metavar="N", help="A version number.", min=1,
                                           show_default=False)]
OtherVersionArg = Annotated[int, typer.Argument(metavar="M", help="Another version number.", min=1,
                                                show_default=False)]


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _reload_cell(reload: dict[str, Any] | None) -> str:
    if not reload:
        return "-"
    return f"{'ok' if reload.get('ok') else 'FAILED'} {reload.get('duration_s', 0):.3f}s"


def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500,
                                       help="Entries to show.")] = 20,
    before: Annotated[int | None, typer.Option("--before", metavar="ID",
                                               help="Only entries older than entry ID.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Versions, failed attempts and reloads, newest first."""
    from rich.table import Table
    from rich.text import Text


    with agent_client(ctx) as client:
        page = client.versions(limit=limit, before=before)
    if as_json:
        typer.echo(json.dumps(page, indent=2))
        return
    table = Table("id", "version", "when", "what", "result", "who", "message", "reload", "ms")
    for e in page.get("entries") or []:
        result = str(e["result"])
        style = "" if result == "ok" else "bold red"
        who = e["who"] + (f" ({e['author']})" if e.get("author") else "")
        message = e.get("message") or ""
        if e.get("error"):
            message = f"{message} — {e['error']}" if message else str(e["error"])
        table.add_row(str(e["id"]), str(e["version"]) if e["version"] is not None else "-",
                      _when(e["at"]), e["kind"], Text(result, style=style), who, message,
                      _reload_cell(e.get("reload")), f"{e['duration_ms']:.0f}")
    out = console()
    out.print(table)
    if page.get("next_before"):
        out.print(f"older entries: lbctl history --before {page['next_before']}")


def show(
    ctx: typer.Context,
    version: VersionArg,
    config: Annotated[bool, typer.Option("--config", help="Print only the rendered haproxy.cfg."
                                         )] = False,
    as_json: JsonOpt = False,
) -> None:
    """Version N: who, when, why, then its spec as YAML (or its rendered config)."""

    with agent_client(ctx) as client:
        entry = client.version(version)
    if as_json:
        typer.echo(json.dumps(entry, indent=2))
        return
    if config:
        typer.echo(entry.get("config") or "", nl=False)
        return
    out = console()
    who = entry["who"] + (f" ({entry['author']})" if entry.get("author") else "")
    out.print(f"version {entry['version']} ({entry['kind']}, entry {entry['id']}) at "
              f"{_when(entry['at'])} by {who}")
    if entry.get("message"):
        out.print(f"message: {entry['message']}")
    out.print(f"config sha256: {entry.get('config_sha256') or '-'}; reload: "
              f"{_reload_cell(entry.get('reload'))}")
    typer.echo("---")
    typer.echo(yaml.safe_dump(entry.get("spec") or {}, sort_keys=False), nl=False)


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """``difflib.unified_diff`` of two texts, 3 lines of context ("" when equal)."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=old_name, tofile=new_name)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def diff(
    ctx: typer.Context,
    old: VersionArg,
    new: OtherVersionArg,
    spec: Annotated[bool, typer.Option("--spec", help="Compare the specs (as YAML) instead.")
                    ] = False,
) -> None:
    """Unified diff of the rendered haproxy.cfg of versions N and M (empty when equal)."""

    with agent_client(ctx) as client:
        a, b = client.version(old), client.version(new)

    def text(entry: dict[str, Any]) -> str:
        if spec:
            return yaml.safe_dump(entry.get("spec") or {}, sort_keys=False)
        return str(entry.get("config") or "")

    kind = "spec" if spec else "haproxy.cfg"
    typer.echo(unified_diff(text(a), text(b), f"version {old} {kind}", f"version {new} {kind}"),
               nl=False)


def rollback(
    ctx: typer.Context,
    version: VersionArg,
    message: MessageOpt = "",
    if_match: IfMatchOpt = None,
    allow_empty: AllowEmptyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply version N's spec again, as a new version (validated and reloaded like an apply)."""

    with agent_client(ctx) as client:
        base = if_match if if_match is not None else client.get_config()[0]
        result = client.rollback(version, if_match=base, message=message, author=author(),
                                 allow_empty=allow_empty)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    if not result.get("changed"):
        console().print(f"unchanged: version {result['version']} already runs version "
                         f"{version}'s spec")
        return
    console().print(f"rolled back to version {version}'s spec as version {result['version']} "
                     f"(was {base}): {_reload_cell(result.get('reload'))}")


def register(app: typer.Typer) -> None:
    """Add ``history``, ``show``, ``diff`` and ``rollback`` to the main ``lbctl`` app."""
    for command in (history, show, diff, rollback):
        app.command(command.__name__)(command)
