"""Token commands of the ``lbctl`` CLI: ``lbctl token create|list|revoke`` (:mod:`lbctl.state.tokens`).

Local commands: they edit the state dir's ``tokens.json`` (``--state-dir``, default
``$LBCTL_STATE_DIR`` or ``./.lbctl``) and need no agent; a running agent sees the change on its
next request. Given the global ``--url`` (``lbctl --url URL token ...``; ``$LBCTL_URL`` alone
does not switch), they go through that agent's API instead (``/api/v1/tokens``, an ``admin``
``--token``): the same store, reached remotely, with audit lines; revoking there also ends the
token's UI sessions at once. Registered on the main app by :func:`register`; errors go through the one error
→ exit-code mapping of :mod:`lbctl.cli` (an unknown name is :class:`lbctl.errors.NotFound`,
exit 4).

``lbctl token create --role viewer --name grafana`` prints the new token alone on stdout, once
(``TOKEN=$(lbctl token create ...)``); only its SHA-256 is kept. ``lbctl token list`` shows
names, roles and creation times, never a token. The bootstrap ``admin`` token
(``$LBCTL_TOKEN`` or the state dir's ``token`` file) is listed but is not in ``tokens.json``:
it cannot be revoked here (change ``$LBCTL_TOKEN``, or delete the file, and restart the agent).
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lbctl.cli.options import JsonOpt, StateOpt, author, console

if TYPE_CHECKING:
    from lbctl.client import Client
    from lbctl.state.tokens import TokenStore

__all__ = ["create", "list_tokens", "register", "revoke", "token_app"]

token_app = typer.Typer(
    help="API tokens and their roles (viewer, operator, admin), in the state dir.",
    no_args_is_help=True,
)



def _store(state_dir: str | None) -> TokenStore:
    from lbctl.state.store import StateDir, resolve_state_dir
    from lbctl.state.tokens import TokenStore

    return TokenStore(StateDir(resolve_state_dir(state_dir)))


def _remote(ctx: typer.Context) -> Client | None:
    """The agent client when the global ``--url`` was given (module docstring), else None."""
    opts = ctx.obj or {}
    if not opts.get("url"):
        return None
    from lbctl.client import Client

    return Client(opts["url"], opts.get("token"))


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "-"


@token_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin.",
                                      show_default=False)],
    name: Annotated[str, typer.Option("--name", help="Who holds it (history and audit 'who').",
                                      show_default=False)],
    ctx: typer.Context,
    state_dir: StateOpt = None,
) -> None:
    """Create a token with ROLE for NAME and print it once (only its hash is stored)."""
    from lbctl.state.tokens import parse_role

    try:
        parsed = parse_role(role)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from None
    remote = _remote(ctx)
    if remote is not None:
        with remote:
            made = remote.create_token(name, parsed, author=author()).unwrap()
        console(stderr=True).print(
            f"Created token {made.name!r} (role {made.role}) on {remote.url}; it is shown "
            "only now:")
        typer.echo(made.token)
        return
    store = _store(state_dir)
    token, record = store.create(name, parsed)
    console(stderr=True).print(
        f"Created token {record.name!r} (role {record.role}) in {store.path}; it is shown "
        "only now:")
    typer.echo(token)


@token_app.command("list")
def list_tokens(ctx: typer.Context, state_dir: StateOpt = None, as_json: JsonOpt = False) -> None:
    """Names, roles and creation times of the tokens (never the tokens)."""
    from rich.table import Table

    from lbctl.state.tokens import ADMIN_NAME

    remote = _remote(ctx)
    if remote is not None:
        with remote:
            listed = remote.tokens().unwrap()
        rows_remote: list[dict[str, Any]] = [
            {"name": listed.bootstrap.name, "role": listed.bootstrap.role, "created_at": None,
             "bootstrap": True},
            *({"name": t.name, "role": t.role, "created_at": t.created_at, "bootstrap": False}
              for t in listed.tokens)]
        if as_json:
            typer.echo(json.dumps({"tokens": rows_remote}, indent=2))
            return
        remote_table = Table("name", "role", "created", "where")
        for row in rows_remote:
            remote_table.add_row(row["name"], row["role"], _when(row["created_at"]),
                                 "bootstrap (the agent's)" if row["bootstrap"] else remote.url)
        console().print(remote_table)
        return
    store = _store(state_dir)
    bootstrap_file = store.state.token_path
    env_set = bool(os.environ.get("LBCTL_TOKEN", "").strip())
    bootstrap_at = bootstrap_file.stat().st_mtime if bootstrap_file.exists() else None
    rows: list[dict[str, Any]] = [{
        "name": ADMIN_NAME, "role": "admin", "created_at": bootstrap_at, "bootstrap": True,
    }]
    rows += [{"name": r.name, "role": r.role, "created_at": r.created_at, "bootstrap": False}
             for r in store.records()]
    if as_json:
        typer.echo(json.dumps({"tokens": rows}, indent=2))
        return
    table = Table("name", "role", "created", "where")
    if env_set:
        origin = "$LBCTL_TOKEN (bootstrap)"
    elif bootstrap_at is not None:
        origin = f"{bootstrap_file} (bootstrap)"
    else:
        origin = "bootstrap: none yet (lbctl serve creates it, or set $LBCTL_TOKEN)"
    for row in rows:
        table.add_row(row["name"], row["role"], _when(row["created_at"]),
                      origin if row["bootstrap"] else store.path.name)
    console().print(table)


@token_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The token's name.",
                                        show_default=False)],
    ctx: typer.Context,
    state_dir: StateOpt = None,
) -> None:
    """Revoke the token NAME: a running agent refuses it (401) from its next request."""
    from lbctl.errors import LbctlError
    from lbctl.state.tokens import ADMIN_NAME

    if name == ADMIN_NAME:
        raise LbctlError(f"{ADMIN_NAME!r} is the bootstrap token ($LBCTL_TOKEN or the state "
                         "dir's token file): change it there and restart the agent")
    remote = _remote(ctx)
    if remote is not None:
        with remote:
            gone = remote.revoke_token(name, author=author()).unwrap()
        console().print(f"revoked token {gone.name!r} (role {gone.role}) on {remote.url}; "
                        f"{gone.sessions_ended} UI session(s) ended")
        return
    record = _store(state_dir).revoke(name)
    console().print(f"revoked token {record.name!r} (role {record.role})")


def register(app: typer.Typer) -> None:
    """Add ``token`` (a command group) to the main ``lbctl`` app."""
    app.add_typer(token_app, name="token")
