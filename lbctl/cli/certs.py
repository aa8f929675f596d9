"""Certificate store commands of the ``lbctl`` CLI, through the agent
(:mod:`lbctl.api.certs`): ``cert put NAME FILE``, ``cert list``, ``cert rm NAME``.

``put`` sends a PEM bundle (certificate, chain, key; or CA certificates) over the current
version (or ``--if-match``); when the spec uses it the agent replaces it in the running HAProxy
(``set ssl cert`` + ``commit ssl cert``, no reload) and the command says so. ``list`` shows each
object's expiry in days, coloured as health judges it (:mod:`lbctl.control.health`): red within
3 days (critical), yellow within 14 (warning), green otherwise. ``rm`` is refused (exit 1)
while the spec names the object. Errors go through the one error → exit-code mapping of
:mod:`lbctl.cli` (an unknown name is :class:`lbctl.errors.NotFound`, exit 4).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lbctl.cli.options import IfMatchOpt, JsonOpt, MessageOpt, agent_client, author, console

__all__ = ["cert_app", "expiry_cell", "register"]

cert_app = typer.Typer(
    help="The agent's certificate store: PEM bundles that binds and servers name (admin token "
    "for writes; each write is a new version in the history).",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The store name the spec uses.",
                                        show_default=False)]


def expiry_cell(expires_in_s: float) -> tuple[str, str]:
    """``(text, rich style)`` of an expiry: days left (``expired`` once past), red within the
    critical threshold, yellow within the warning one, green otherwise."""
    from lbctl.control.health import CERT_CRITICAL_DAYS, CERT_WARNING_DAYS

    days = expires_in_s / 86400
    text = f"expired {-days:.1f} days ago" if days <= 0 else f"{days:.1f} days"
    if days <= CERT_CRITICAL_DAYS:
        return text, "bold red"
    if days <= CERT_WARNING_DAYS:
        return text, "yellow"
    return text, "green"


@cert_app.command("put")
def put(
    ctx: typer.Context,
    name: NameArg,
    file: Annotated[Path, typer.Argument(
        metavar="FILE", help="PEM: the certificate, its chain (leaf first) and its key; or CA "
        "certificates.", exists=True, dir_okay=False, readable=True, show_default=False)],
    message: MessageOpt = "",
    if_match: IfMatchOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Keep FILE as certificate NAME; when the spec uses it, replace it live (no reload)."""
    pem = file.read_bytes()
    with agent_client(ctx) as client:
        base = if_match if if_match is not None else client.get_config()[0]
        result = client.put_certificate(name, pem, if_match=base, message=message,
                                        author=author())
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    out = console()
    cert = result.get("certificate") or {}
    if not result.get("changed"):
        out.print(f"unchanged: the store already holds this {name}")
    else:
        how = {"runtime": "replaced in the running HAProxy (no reload)",
               "reload": "HAProxy reloaded", "none": "not in use by the spec"}
        out.print(f"kept {name} as version {result['version']} (was {base}): "
                  f"{how.get(str(result['applied']), result['applied'])}")
    if cert:
        text, _style = expiry_cell(float(cert["expires_in_s"]))
        out.print(f"  {cert['kind']} {cert['subject']}, expires in {text} "
                  f"({cert['not_after']}), sha256 {cert['fingerprint_sha256']}")
    for warning in result.get("warnings") or []:
        console(stderr=True).print(f"warning: {warning}", style="yellow")


@cert_app.command("list")
def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every certificate and CA of the store: subject, SANs, expiry in days, who uses it."""
    from rich.table import Table
    from rich.text import Text

    with agent_client(ctx) as client:
        page = client.certificates()
    if as_json:
        typer.echo(json.dumps(page, indent=2))
        return
    used: dict[str, Any] = page.get("used_by") or {}
    table = Table("name", "kind", "subject", "SANs", "expires", "not after", "used by")
    for c in page.get("certificates") or []:
        text, style = expiry_cell(float(c["expires_in_s"]))
        table.add_row(c["name"], c["kind"], c["subject"], ", ".join(c.get("sans") or []) or "-",
                      Text(text, style=style), str(c["not_after"])[:19].replace("T", " "),
                      ", ".join(used.get(c["name"]) or []) or "-")
    console().print(table)


@cert_app.command("rm")
def rm(
    ctx: typer.Context,
    name: NameArg,
    message: MessageOpt = "",
    if_match: IfMatchOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove certificate NAME from the store (refused while the spec uses it)."""
    with agent_client(ctx) as client:
        base = if_match if if_match is not None else client.get_config()[0]
        result = client.delete_certificate(name, if_match=base, message=message,
                                           author=author())
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    console().print(f"removed {name} as version {result['version']} (was {base})")


def register(app: typer.Typer) -> None:
    """Add ``cert`` (a command group) to the main ``lbctl`` app."""
    app.add_typer(cert_app, name="cert")
