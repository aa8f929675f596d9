"""The importer's round-trip check of backends, for all of a document's backends in one render.

A backend's lines become fields only when rendering those fields gives the very same
normalised directives back (:func:`lbctl.importer.proxies.renders_back`). Rendering each
backend through its own Jinja call costs more than the rest of an import; :class:`RoundTrips`
collects the backends whose fields validated (the model kept on their
:class:`~lbctl.importer.proxies.Mapped`) and renders them all with one call of
``templates/backend.j2`` (:func:`render_backends`, the very template and macros
:func:`lbctl.render.render` and :func:`lbctl.render.render_proxy` use), then compares each
backend's text with the lines it came from as :func:`~lbctl.importer.proxies.renders_same`
does. The check is the same, once per document: :meth:`RoundTrips.failures` names every backend
that does not come back the same, and the importer maps those again with a render each, which
tries the next way to map them (:mod:`lbctl.importer.backends`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path

import jinja2

from lbctl.config.document import Line
from lbctl.config.normal import text_directives
from lbctl.errors import LbctlError, RenderError
from lbctl.features import Capabilities
from lbctl.importer.proxies import Mapped, renders_same
from lbctl.render import RenderContext, environment
from lbctl.spec import Backend

__all__ = ["BACKEND_CONTEXT", "RoundTrips", "render_backends"]

#: The render context of a backend check: a backend names no file of it.
BACKEND_CONTEXT = RenderContext(run_dir=Path("/nonexistent"))
#: Between two backends' texts: a NUL, which no rendered line holds (a text that holds one
#: splits into too many parts, and every backend is then checked alone).
_SEPARATOR = "\0"
_BATCH = ('{% for item in backends %}{% with be = item %}{% include "backend.j2" %}'
          '{% endwith %}' + _SEPARATOR + '{% endfor %}')
_TEMPLATE: jinja2.Template | None = None


def render_backends(backends: Sequence[Backend], caps: Capabilities,
                    ctx: RenderContext) -> list[str] | None:
    """The text of each backend section alone, as :func:`lbctl.render.render_proxy` writes
    it, from one render (``templates/backend.j2`` included once per backend, as
    ``haproxy.cfg.j2`` includes it). ``None`` when the texts cannot be told apart. Raises
    :class:`~lbctl.errors.RenderError` when a template fails."""
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = environment().from_string(_BATCH)
    try:
        text = _TEMPLATE.render(backends=backends, caps=caps, ctx=ctx)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc
    parts = text.split(_SEPARATOR)
    if len(parts) != len(backends) + 1 or parts[-1]:
        return None
    return parts[:-1]


class RoundTrips:
    """Backends waiting for their round-trip check, each under a ``key`` (the importer's: the
    header line of its section)."""

    def __init__(self, caps: Capabilities) -> None:
        self.caps = caps
        self.pending: list[tuple[Hashable, Mapped, list[Line]]] = []

    def add(self, key: Hashable, mapped: Mapped, lines: list[Line]) -> None:
        """Check later that ``mapped`` (its ``model`` a validated :class:`Backend`) renders
        back the same as its placed lines among ``lines`` (the section's own, in order)."""
        if not isinstance(mapped.model, Backend):
            raise TypeError("a round trip needs the validated Backend of its fields")
        self.pending.append((key, mapped, lines))

    def failures(self) -> set[Hashable]:
        """The keys of the backends that do not render back the same (all of them when the
        render fails or its texts cannot be told apart)."""
        if not self.pending:
            return set()
        models = [mapped.model for _, mapped, _ in self.pending]
        try:
            texts = render_backends(models, self.caps, BACKEND_CONTEXT)  # type: ignore[arg-type]
        except LbctlError:
            texts = None
        if texts is None:
            return {key for key, _, _ in self.pending}
        failed: set[Hashable] = set()
        for (key, mapped, lines), text in zip(self.pending, texts, strict=True):
            try:
                out = text_directives(text)
            except LbctlError:
                failed.add(key)
                continue
            if not renders_same(out, mapped, lines):
                failed.add(key)
        return failed
