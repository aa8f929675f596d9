"""Spec + target HAProxy → ``haproxy.cfg`` text, through the Jinja templates in ``templates/``.

Rendering is deterministic (the same spec, capabilities and context give the same bytes) and
strict (``StrictUndefined``: a missing variable is a :class:`RenderError`, never an empty
string). Values are never escaped: the spec's allowlists guarantee every string is a single
safe token. Version-dependent forms are chosen by the flags of
:class:`lbctl.features.Capabilities` only; the facts the templates need beyond the spec come
from :mod:`lbctl.render.view`, lbctl's own names from :mod:`lbctl.render.names`.
"""

from __future__ import annotations

from typing import Any

import jinja2

from lbctl import __version__, paths
from lbctl.errors import RenderError
from lbctl.features import Capabilities
from lbctl.render.loglines import defaults_log_lines
from lbctl.render.memo import BackendTexts
from lbctl.render.names import PEERS_SECTION, PROMETHEUS_FRONTEND, RenderContext
from lbctl.render.servers import server_line, server_options
from lbctl.render.tls import bind_tls, check_tls_gates, server_tls
from lbctl.render.view import build_view, forget_route_rules
from lbctl.spec import Backend, Frontend, HealthCheck, Server, Spec
from lbctl.spec.types import format_duration

__all__ = ["environment", "render", "render_proxy", "server_words"]


def server_words(server: Server, hc: HealthCheck | None) -> list[str]:
    """The words of a server's line as ``templates/backend.j2`` writes it
    (:func:`lbctl.render.servers.server_line`): ``server <name> <address>:<port>`` and the
    options of :func:`lbctl.render.servers.server_options`."""
    return server_line(server, hc).split()


def environment() -> jinja2.Environment:
    """The Jinja environment over ``templates/``: StrictUndefined, no autoescape, the
    ``duration`` filter (ms → ``30s``). ``trim_blocks`` and ``lstrip_blocks``: a line holding
    only a ``{% ... %}`` tag writes nothing; a tag ending a written line keeps that line's
    newline with ``+%}``. The templates write every byte; nothing is rewritten afterwards.
    Templates are read once (``auto_reload`` off: a backend's include no longer stats its
    file, 10,000 times per render at 10,000 backends)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(paths.templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # package files: no stat of each included template per use
    )
    env.filters["duration"] = format_duration
    env.globals.update(bind_tls=bind_tls, server_tls=server_tls, server_options=server_options,
                       server_text=server_line, defaults_log_lines=defaults_log_lines)
    return env


_ENV: jinja2.Environment | None = None
#: The backend sections of the last render (:mod:`lbctl.render.memo`).
_BACKEND_TEXTS = BackendTexts()


def forget_backend_texts() -> None:
    """Forget the last render's backend texts (:mod:`lbctl.render.memo`) and route rules
    (:func:`lbctl.render.view.forget_route_rules`): the next :func:`render` writes every
    backend through ``templates/backend.j2`` and makes every route's rules, as the first
    render of a spec whose proxies are all new does."""
    _BACKEND_TEXTS.clear()
    forget_route_rules()


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
            return env.get_template("backend.j2").render(be=proxy, caps=caps, ctx=ctx)
        view = build_view(Spec.model_construct(frontends=[proxy]), caps)
        return env.get_template("frontend.j2").render(fe=view.frontends[0], caps=caps, ctx=ctx)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc


def _backend_runs(blocks: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``blocks`` (:attr:`lbctl.render.view.View.blocks`) with each run of consecutive
    ``("backend", be)`` blocks as one ``("backends", [be, ...])``: the template writes a run
    as one string, its backends' texts one blank line apart as its loop would write them (a
    Jinja iteration per backend was half of a render whose backends were all kept)."""
    out: list[tuple[str, Any]] = []
    for kind, item in blocks:
        if kind != "backend":
            out.append((kind, item))
        elif out and out[-1][0] == "backends":
            out[-1][1].append(item)
        else:
            out.append(("backends", [item]))
    return out


def render(spec: Spec, caps: Capabilities, ctx: RenderContext) -> str:
    """Render ``haproxy.cfg`` for ``spec`` on the target described by ``caps``.

    Returns the config text (ends with a newline). Raises :class:`RenderError` if a template
    fails or the spec needs a form the target lacks. A backend whose fields are those of one
    in the last render (same target and context) is not rendered again: its text is reused
    (:mod:`lbctl.render.memo`; the same bytes ``templates/backend.j2`` writes).
    """
    view = build_view(spec, caps)
    check_tls_gates(spec, caps)
    env = _environment()
    backend = env.get_template("backend.j2")
    frontend = env.get_template("frontend.j2")
    session = _BACKEND_TEXTS.session(
        caps, ctx, lambda be: backend.render(be=be, caps=caps, ctx=ctx))
    text_of = session.text
    try:
        text = env.get_template("haproxy.cfg.j2").render(
            spec=spec,
            caps=caps,
            ctx=ctx,
            view=view,
            blocks=_backend_runs(view.blocks),
            local_peer=ctx.local_peer,
            peers_section=PEERS_SECTION,
            prometheus_frontend=PROMETHEUS_FRONTEND,
            lbctl_version=__version__,
            backend_texts=lambda run: "\n".join([text_of(be) for be in run]),
            frontend_text=lambda fe: frontend.render(fe=fe, caps=caps, ctx=ctx),
        )
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc
    session.done()
    return text
