"""Spec + capabilities → ``haproxy.cfg`` text through ``templates/``.

:mod:`~lbctl.render.names` (every name lbctl owns in a config), :mod:`~lbctl.render.view` (rule
order and the facts the templates need), :mod:`~lbctl.render.render` (the Jinja environment and
:func:`render`), :mod:`~lbctl.render.provenance` (rendered line → spec field),
:mod:`~lbctl.render.servers` (a server line's options), :mod:`~lbctl.render.order` (the
order of the sections).
"""

from __future__ import annotations

from lbctl.render.names import (
    LOCAL_PEER,
    PEERS_SECTION,
    PROMETHEUS_FRONTEND,
    RenderContext,
    peer_args,
    stick_table_name,
)
from lbctl.render.order import section_ref
from lbctl.render.provenance import FieldsOfLines, field_for_line
from lbctl.render.render import (
    environment,
    forget_backend_texts,
    render,
    render_proxy,
    server_words,
)
from lbctl.render.view import build_view, prefix_acls

__all__ = ["LOCAL_PEER", "PEERS_SECTION", "PROMETHEUS_FRONTEND", "FieldsOfLines", "RenderContext",
           "build_view", "environment", "field_for_line", "forget_backend_texts", "peer_args",
           "prefix_acls", "render", "render_proxy", "section_ref", "server_words",
           "stick_table_name"]
