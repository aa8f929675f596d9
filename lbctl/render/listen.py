"""One ``listen`` section (:class:`lbctl.spec.models.Listen`) alone, through ``templates/listen.j2``,
exactly as :func:`lbctl.render.render` writes it in a whole config: what the importer renders to
check that a listen section's fields give back the lines they came from."""

from __future__ import annotations

import functools

import jinja2

from lbctl.errors import RenderError
from lbctl.features import Capabilities
from lbctl.render.names import RenderContext
from lbctl.render.render import environment
from lbctl.spec.models import Listen

__all__ = ["render_listen"]


@functools.cache
def _template() -> jinja2.Template:
    return environment().get_template("listen.j2")


def render_listen(listen: Listen, caps: Capabilities, ctx: RenderContext) -> str:
    """The text of ``listen``'s section (header, lines, no blank line around it). Raises
    :class:`RenderError` if the template fails."""
    try:
        return _template().render(li=listen, caps=caps, ctx=ctx)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc
