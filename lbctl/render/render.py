"""Spec + target HAProxy → ``haproxy.cfg`` text, through the Jinja templates in ``templates/``.

Rendering is deterministic (the same spec, capabilities and context give the same bytes) and
strict (``StrictUndefined``: a missing variable is a :class:`RenderError`, never an empty
string). Values are never escaped: the spec's allowlists guarantee every string is a single
safe token. Version-dependent forms are chosen by the flags of
:class:`lbctl.features.Capabilities` only; the facts the templates need beyond the spec come
from :mod:`lbctl.render.view`, lbctl's own names from :mod:`lbctl.render.names`.
"""

from __future__ import annotations

import re

import jinja2

from lbctl import __version__, paths
from lbctl.errors import RenderError
from lbctl.features import Capabilities
from lbctl.render.names import LOCAL_PEER, PEERS_SECTION, PROMETHEUS_FRONTEND, RenderContext
from lbctl.render.view import build_view
from lbctl.spec import Backend, Frontend, HealthCheck, Server, Spec
from lbctl.spec.types import format_duration

__all__ = ["environment", "render", "render_proxy", "server_words"]


def _server_address(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def server_words(server: Server, hc: HealthCheck | None) -> list[str]:
    """The words of a server's line (``templates/backend.j2``): ``server <name>
    <address>:<port> weight <w> [maxconn <n>] [backup] [check inter <t> rise <r> fall <f>]
    [disabled]``. A drained server is written ``weight 0``; ``check`` only with a health
    check. :mod:`lbctl.importer` reads a line back only when these words come back."""
    weight = 0 if server.state == "drain" else server.weight
    words = ["server", server.name, f"{_server_address(server.address)}:{server.port}",
             "weight", str(weight)]
    if server.maxconn:
        words += ["maxconn", str(server.maxconn)]
    if server.backup:
        words.append("backup")
    if hc is not None and server.check:
        words += ["check", "inter", format_duration(hc.inter), "rise", str(hc.rise),
                  "fall", str(hc.fall)]
    if server.state == "maint":
        words.append("disabled")
    return words


def _server_line(server: Server, hc: HealthCheck | None) -> str:
    return " ".join(server_words(server, hc))


def environment() -> jinja2.Environment:
    """The Jinja environment over ``templates/``: StrictUndefined, no autoescape, no cache of
    undefined values, ``duration`` (ms → ``30s``), ``server_address`` and ``server_line``
    filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(paths.templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["duration"] = format_duration
    env.filters["server_address"] = _server_address
    env.filters["server_line"] = _server_line
    return env


_ENV: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = environment()
    return _ENV


def render_proxy(proxy: Frontend | Backend, caps: Capabilities, ctx: RenderContext) -> str:
    """The text of one ``frontend`` or ``backend`` section alone, exactly as :func:`render`
    writes it in a whole config (:mod:`lbctl.importer` compares it with what it read).
    Raises :class:`RenderError` as :func:`render` does."""
    env = _environment()
    try:
        if isinstance(proxy, Backend):
            return env.get_template("backend.j2").render(be=proxy, caps=caps)
        view = build_view(Spec.model_construct(frontends=[proxy]), caps)
        return env.get_template("frontend.j2").render(fe=view.frontends[0], caps=caps, ctx=ctx)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc


def render(spec: Spec, caps: Capabilities, ctx: RenderContext) -> str:
    """Render ``haproxy.cfg`` for ``spec`` on the target described by ``caps``.

    Returns the config text (ends with a newline). Raises :class:`RenderError` if a template
    fails or the spec needs a form the target lacks.
    """
    view = build_view(spec, caps)
    try:
        text = _environment().get_template("haproxy.cfg.j2").render(
            spec=spec,
            caps=caps,
            ctx=ctx,
            view=view,
            local_peer=LOCAL_PEER,
            peers_section=PEERS_SECTION,
            prometheus_frontend=PROMETHEUS_FRONTEND,
            lbctl_version=__version__,
        )
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
