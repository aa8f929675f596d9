"""The ``lbctl`` command (typer + rich).

Local commands: ``render``, ``import``, ``validate``, ``schema``, ``demo``, ``exit-codes``
(:mod:`lbctl.cli.exit_codes`); the agent itself: ``serve``;
through the agent (``--url`` / ``$LBCTL_URL``, ``--token`` / ``$LBCTL_TOKEN``): ``apply``,
``status``, ``health``, ``reload`` (:mod:`lbctl.cli.status`), the runtime commands of
:mod:`lbctl.cli.runtime` (``server drain|ready|maint|weight``, ``clients``), the history commands of
:mod:`lbctl.cli.history` (``history``, ``show``, ``diff``, ``rollback``) and ``plan``
(:mod:`lbctl.cli.source`, whose exit codes 0 / 10 say whether anything would change).

Local token commands (:mod:`lbctl.cli.tokens`): ``token create|list|revoke``. What the
command modules share (console, agent client, author) is :mod:`lbctl.cli.options`.

The one error → exit-code mapping is :func:`lbctl.cli.errors.report_error`, called by the
command group for every :class:`lbctl.errors.LbctlError`; :data:`lbctl.cli.errors.EXIT_CODES`
is the table of every code (``lbctl exit-codes`` prints it).

Size: over 300 lines because the local commands (render, validate, schema, import, serve,
demo, apply) live here; each is short, and the groups have modules of their own.
"""

from __future__ import annotations

import inspect
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from lbctl.cli import certs as cli_certs
from lbctl.cli import exit_codes as cli_exit_codes
from lbctl.cli import fleet as cli_fleet
from lbctl.cli import history as cli_history
from lbctl.cli import logs as cli_logs
from lbctl.cli import ping as cli_ping
from lbctl.cli import runtime as cli_runtime
from lbctl.cli import source as cli_source
from lbctl.cli import status as cli_status
from lbctl.cli import tokens as cli_tokens
from lbctl.cli.errors import report_error
from lbctl.cli.options import (
    AllowEmptyOpt,
    BinOpt,
    IfMatchOpt,
    JsonOpt,
    MessageOpt,
    SpecArg,
    StateOpt,
    VersionOpt,
    agent_client,
    author,
    console,
    diagnostic_lines,
)
from lbctl.errors import (
    ConfigRejected,
    Diagnostic,
    FileUnreadable,
    LbctlError,
)
from lbctl.features import Capabilities, HAProxyVersion

if TYPE_CHECKING:
    from lbctl.haproxy.binary import HAProxyBinary
    from lbctl.importer.stats import ImportStats

__all__ = ["app", "main"]


def _paragraphs(text: str | None) -> str | None:
    """A docstring as ``--help`` shows it: dedented, each paragraph (blank-line separated) on
    one line, so rich wraps it at the terminal's width (typer keeps every single line break
    after the first paragraph). A paragraph that starts with ``\\b`` and anything after
    ``\\f`` are left as they are."""
    if not text:
        return text
    body, form_feed, rest = inspect.cleandoc(text).partition("\f")
    paragraphs = [p if p.startswith("\b") else " ".join(p.split()) for p in body.split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p) + form_feed + rest


def _reflow_help(group: TyperGroup) -> None:
    """Apply :func:`_paragraphs` to the help of ``group`` and of every command under it."""
    group.help = _paragraphs(group.help)
    for command in group.commands.values():
        if isinstance(command, TyperGroup):
            _reflow_help(command)
        else:
            command.help = _paragraphs(command.help)


class _Group(TyperGroup):
    """The command group: routes every :class:`LbctlError` through :func:`report_error`;
    every command's help is made of whole paragraphs (:func:`_paragraphs`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _reflow_help(self)

    def invoke(self, ctx: Any) -> Any:  # a typer/click Context
        try:
            return super().invoke(ctx)
        except LbctlError as err:
            raise typer.Exit(report_error(err)) from None


app = typer.Typer(
    cls=_Group,
    name="lbctl",
    help="Load-balancer controller for an embedded HAProxy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.callback()
def _global_options(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(
        "--url", help="Agent URL for apply/status/health/reload (default: $LBCTL_URL or "
        "http://127.0.0.1:9900).")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", help="Agent token (default: $LBCTL_TOKEN, or the state dir's token file).")
    ] = None,
) -> None:
    """Load-balancer controller for an embedded HAProxy."""
    ctx.obj = {"url": url, "token": token}


def _capabilities(version: str | None, binary: HAProxyBinary | None) -> Capabilities:
    """Render capabilities: of ``--haproxy-version`` when given, else of ``binary``."""
    if version is None:
        assert binary is not None
        return binary.capabilities()
    try:
        parsed = HAProxyVersion.parse(version)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--haproxy-version") from None
    return Capabilities.for_target(parsed, lua=binary.has("LUA") if binary else True,
                                   promex=binary.has("PROMEX") if binary else True)


@app.command()
def serve(
    listen: Annotated[str, typer.Option(
        "--listen", envvar="LBCTL_LISTEN", help="HOST:PORT of the API.")] = "127.0.0.1:9900",
    state_dir: StateOpt = None,
    keep_haproxy: Annotated[bool, typer.Option(
        "--keep-haproxy", help="Leave HAProxy running on exit (the next serve adopts it).")
    ] = False,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="TLS certificate (PEM).")
                        ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="TLS private key (PEM).")
                       ] = None,
    haproxy_bin: BinOpt = None,
    log_level: Annotated[str, typer.Option(
        "--log-level", help="The agent's own log lines: debug, info, warning, error.")] = "info",
    log_format: Annotated[str, typer.Option(
        "--log-format", help="The agent's own log lines on stderr: text, or json (one object "
        "a line).")] = "text",
    haproxy_log: Annotated[Path | None, typer.Option(
        "--haproxy-log", metavar="FILE",
        help="Also write HAProxy's log lines to FILE (rotated at 10 MiB, 5 kept); the agent "
        "keeps the last 1000 in memory either way (lbctl logs).")] = None,
    allow_path: Annotated[list[str] | None, typer.Option(
        "--allow-path", metavar="DIR",
        help="Host policy: also allow config files (certificates, error files, maps, Lua) and "
        "UNIX sockets under this absolute directory, after '..' and symlinks are resolved. "
        "Repeatable; added to $LBCTL_ALLOW_PATHS (':'-separated). The API cannot change it; "
        "GET /api/v1/haproxy shows the policy in force.")] = None,
    allow_directive: Annotated[list[str] | None, typer.Option(
        "--allow-directive", metavar="NAME",
        help="Host policy: allow a directive refused by default (e.g. lua-load, program, "
        "stats-socket, setenv); its file paths are still checked. Repeatable; added to "
        "$LBCTL_ALLOW_DIRECTIVES (comma-separated). An unknown name is an error.")] = None,
    haproxy_user: Annotated[str | None, typer.Option(
        "--haproxy-user", metavar="NAME",
        help="When the agent runs as root: the user HAProxy's workers drop privileges to "
        "(its group: the group of the same name, else the user's own). Default: haproxy "
        "if it exists, else nobody/nogroup. HAProxy binds its ports (privileged ones too) "
        "and opens its files before dropping. Ignored when not root.")] = None,
    session_ttl: Annotated[int, typer.Option(
        "--session-ttl", metavar="SECONDS", min=60, max=30 * 86400,
        help="Lifetime of an admin UI session (the cookie a token is exchanged for at "
        "/ui/), from login; not extended by use.")] = 8 * 3600,
    fleet: cli_fleet.FleetOpt = None,
    node: cli_fleet.NodeOpt = None,
    fleet_name: cli_fleet.FleetNameOpt = "default",
    fleet_ttl: cli_fleet.FleetTtlOpt = 10,
    fleet_deadline: cli_fleet.FleetDeadlineOpt = 10.0,
    peer_address: cli_fleet.PeerAddressOpt = None,
) -> None:
    """Run the agent: start (or adopt) HAProxy and serve the API until SIGTERM / Ctrl-C."""
    from lbctl.api.server import agent_token, check_bind_safety, parse_listen
    from lbctl.api.server import serve as run_agent
    from lbctl.cli.agentlog import configure_logging
    from lbctl.haproxy.privileges import drop_to
    from lbctl.spec.policy import HostOptions
    from lbctl.state.store import StateDir, resolve_state_dir

    where = parse_listen(listen)
    check_bind_safety(where, tls_cert, tls_key)  # before anything is created
    member = cli_fleet.fleet_options(fleet, node, fleet_name, str(where), ttl_s=fleet_ttl,
                                     deadline_s=fleet_deadline)
    try:
        host = HostOptions.gather(allow_path or (), allow_directive or (), haproxy_user)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        drop_to(host.haproxy_user)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--haproxy-user") from None
    state = StateDir(resolve_state_dir(state_dir))
    token, created = agent_token(state)
    err = console(stderr=True)
    if created:
        err.print(f"Generated the agent token (saved in {state.token_path}, mode 0600):")
        err.print(f"  {token}")
    try:
        configure_logging(log_level, log_format)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    code = run_agent(state, where, token=token, haproxy_bin=haproxy_bin,
                     keep_haproxy=keep_haproxy, tls_cert=tls_cert, tls_key=tls_key,
                     log_level=log_level, announce=err.print, host=host,
                     session_ttl_s=session_ttl,
                     haproxy_log=haproxy_log, fleet=member,
                     peer_address=cli_fleet.peer_address(peer_address))
    raise typer.Exit(code)


@app.command("render")
def render_cmd(
    spec: SpecArg,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here (atomically).")
                      ] = None,
    haproxy_version: VersionOpt = None,
    haproxy_bin: BinOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Render haproxy.cfg from SPEC for the detected binary or --haproxy-version."""
    from lbctl.haproxy.binary import detect
    from lbctl.render import RenderContext, render
    from lbctl.spec import load_spec
    from lbctl.state.store import StateDir, resolve_state_dir

    parsed = load_spec(spec)
    binary = detect(haproxy_bin) if haproxy_version is None else None
    caps = _capabilities(haproxy_version, binary)
    text = render(parsed, caps, RenderContext(StateDir(resolve_state_dir(state_dir)).run_dir))
    if output is None:
        sys.stdout.write(text)
        return
    # StateDir's atomic write (temp file in the same dir, fsync, rename, fsync the dir).
    StateDir(output.parent).atomic_write(output.absolute(), text.encode())
    console(stderr=True).print(f"wrote {output} (HAProxy {caps.version})")


@app.command("import")
def import_cmd(
    config: Annotated[Path, typer.Argument(help="Any haproxy.cfg (one lbctl rendered, or not).")],
    fmt: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
    haproxy_version: Annotated[str | None, typer.Option(
        "--haproxy-version", help="The target the spec will be rendered for (default: the "
        "version in lbctl's header comment, else 2.8): forms it writes differently stay extra "
        "lines.")] = None,
    stats: Annotated[bool, typer.Option(
        "--stats", help="Also print, on stderr, how many directive lines of each section kind "
        "became spec fields, extra lines, verbatim sections or lbctl's own lines, and how many "
        "server lines became structured servers.")] = False,
) -> None:
    """Print a spec of CONFIG (lbctl import haproxy.cfg > lb.yaml).

    Directives lbctl writes back the same become fields; every other line is kept, in order,
    as an extra line of its section, and sections of other kinds as `sections` entries. A line
    with no place at all (before any section, a second defaults section ...) is an error
    naming it (exit 1).
    """
    from lbctl.config import load
    from lbctl.importer import import_config
    from lbctl.importer.stats import import_stats
    from lbctl.spec import dump_spec

    if fmt not in ("yaml", "json"):
        raise typer.BadParameter("--format must be yaml or json")
    caps = _capabilities(haproxy_version, None) if haproxy_version else None
    try:
        doc = load(config)
    except OSError as exc:
        raise FileUnreadable(f"cannot read {config}: {exc.strerror}") from None
    imported = import_config(doc, caps=caps)
    sys.stdout.write(dump_spec(imported.spec, "json" if fmt == "json" else "yaml"))
    if stats:
        _print_import_stats(import_stats(doc, imported))


def _print_import_stats(stats: ImportStats) -> None:
    """The table of ``lbctl import --stats``, on stderr (stdout stays the spec)."""
    from rich.table import Table

    table = Table(title="What the import made of each directive line")
    for header in ("section", "field", "extra", "verbatim", "lbctl", "fields"):
        table.add_column(header, justify="left" if header == "section" else "right")
    for row in stats.rows():
        table.add_row(*row)
    err = console(stderr=True)
    err.print(table)
    err.print(f"server lines: {stats.structured_servers} of {stats.servers} became structured "
              "servers")


@app.command("validate")
def validate_cmd(
    spec: SpecArg,
    haproxy_version: VersionOpt = None,
    haproxy_bin: BinOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Validate SPEC locally: fields, rendering, then `haproxy -c` on the exact text.

    Exit 0 when valid, 1 when not (every error names its spec field where possible)."""
    from lbctl.control.controller import with_fields
    from lbctl.haproxy.binary import detect
    from lbctl.haproxy.validate import check_text
    from lbctl.render import RenderContext, peer_args, render
    from lbctl.spec import load_spec
    from lbctl.state.store import StateDir, resolve_state_dir

    parsed = load_spec(spec)
    binary = detect(haproxy_bin)
    caps = _capabilities(haproxy_version, binary)
    text = render(parsed, caps, RenderContext(StateDir(resolve_state_dir(state_dir)).run_dir))
    with tempfile.TemporaryDirectory(prefix="lbctl-check-") as tmp:
        try:
            diags = check_text(binary, text, directory=Path(tmp), extra_args=peer_args(caps))
        except ConfigRejected as exc:
            raise ConfigRejected(with_fields(parsed, text, exc.diagnostics), exc.output) from None
    out = console()
    out.print(f"valid: {spec} (HAProxy {binary.version} -c, target {caps.version})")
    for d in with_fields(parsed, text, diags):
        for line in diagnostic_lines(d):
            out.print(line)


@app.command()
def apply(
    ctx: typer.Context,
    spec: SpecArg,
    message: MessageOpt = "",
    if_match: IfMatchOpt = None,
    allow_empty: AllowEmptyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply SPEC through the agent (validate, write, reload, verify)."""
    from lbctl.spec import load_spec

    parsed = load_spec(spec)
    with agent_client(ctx) as client:
        base = if_match if if_match is not None else client.get_config()[0]
        result = client.put_config(parsed, if_match=base, message=message, author=author(),
                                   allow_empty=allow_empty)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    out = console()
    if not result.get("changed"):
        out.print(f"unchanged: version {result['version']} already runs this spec")
        return
    reload = result.get("reload") or {}
    how = (f"reloaded in {reload.get('duration_s', 0):.3f} s ({reload.get('method')})"
           if reload else "HAProxy started")
    out.print(f"applied version {result['version']} (was {base}): {how}; "
              f"total {result.get('duration_s', 0):.3f} s")
    for d in result.get("diagnostics") or []:
        for line in diagnostic_lines(Diagnostic(**d)):
            out.print(line)


@app.command()
def schema() -> None:
    """Print the JSON Schema of a spec."""
    from lbctl.spec import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def demo(
    rate: Annotated[int, typer.Option("--rate", help="client1's limit, requests/s.")] = 10,
    burst: Annotated[int, typer.Option("--burst", help="client1's excess requests that wait.")
                     ] = 100,
    requests: Annotated[int, typer.Option("--requests", help="Requests per client.")] = 150,
    haproxy_bin: BinOpt = None,
) -> None:
    """Run the burst-smoothing story end to end on this machine (under 20 s)."""
    from lbctl.demo.run import run_demo

    raise typer.Exit(run_demo(rate=rate, burst=burst, n=requests, haproxy_bin=haproxy_bin))


cli_status.register(app)
cli_runtime.register(app)
cli_ping.register(app)
cli_logs.register(app)
cli_history.register(app)
cli_tokens.register(app)
cli_certs.register(app)
cli_source.register(app)
cli_exit_codes.register(app)
cli_fleet.register(app)


def main() -> None:
    """Console-script entry point (``lbctl``)."""
    app(prog_name="lbctl")


if __name__ == "__main__":
    main()
