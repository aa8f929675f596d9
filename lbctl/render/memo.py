"""Backend sections kept from the last render: a backend whose fields did not change is not
rendered again.

An apply changes a few backends of many, and the source view's *validate* then *validate and
save* renders the same spec twice; at 10,000 backends of five servers ``templates/backend.j2``
took about 0.4 s of every render (40 µs of Jinja per backend), the largest cost of an apply
after HAProxy's own. :class:`BackendTexts` keeps each backend's text from the previous render,
keyed by the backend's JSON (pydantic-core's serialiser, about 10 µs per backend): every field
with its type (``1`` and ``true`` and ``"1"`` are different keys), so an equal key is the same
input to the template, which depends on nothing else but the target (``caps``) and the render
context (``ctx``): a render for another target or context starts afresh. A backend that is the
very object of the last render (a frozen model: an apply reuses the live spec's unchanged
backends, :mod:`lbctl.spec.known`) takes the key it had then, without serialising it again:
spec models are never changed in place once built (the one in-place assignment, the importer's
``comment`` / ``extra`` in ``lbctl.importer.core``, comes before any render of the model).

Only the last render's texts are kept (one generation: at most one text per backend of the
last spec rendered, and that render's backend models), so the memory is bounded by the size of
one config. Renders may run in
several threads at once (an apply, a dry run): each reads the last generation and offers its
own when done; the last to finish is kept. Every text still comes from ``backend.j2`` — the
template stays the one description of a backend section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lbctl.features import Capabilities
from lbctl.render.names import RenderContext
from lbctl.spec import Backend

__all__ = ["BackendTexts", "RenderSession"]

_to_json = Backend.__pydantic_serializer__.to_json


@dataclass
class RenderSession:
    """The backend texts of one render: :meth:`text` for each backend, :meth:`done` when the
    whole config rendered (never after a failed render: its texts are not kept)."""

    owner: BackendTexts
    target: tuple[Capabilities, RenderContext]
    render_one: Callable[[Backend], str]
    before: dict[bytes, str]
    #: The previous render's backends: ``id`` → (the model, its key), the model held so that
    #: its ``id`` names no other object.
    before_keys: dict[int, tuple[Backend, bytes]] = field(default_factory=dict)
    texts: dict[bytes, str] = field(default_factory=dict)
    keys: dict[int, tuple[Backend, bytes]] = field(default_factory=dict)

    def text(self, be: Backend) -> str:
        """The text of backend ``be`` exactly as ``render_one(be)`` writes it: the previous
        render's when its JSON is the same, else rendered now. Raises what ``render_one``
        raises."""
        known = self.before_keys.get(id(be))
        key = known[1] if known is not None and known[0] is be else _to_json(be)
        self.keys[id(be)] = (be, key)
        text = self.texts.get(key)
        if text is None:
            text = self.before.get(key)
            if text is None:
                text = self.render_one(be)
            self.texts[key] = text
        return text

    def done(self) -> None:
        """Keep this render's texts for the next render of the same target and context."""
        self.owner.last = (self.target, self.texts, self.keys)


class BackendTexts:
    """The backend texts of the last complete render, for one process (see the module
    docstring). Not a cache of whole configs: every render renders its frontends, defaults,
    stick tables and the rest."""

    def __init__(self) -> None:
        self.last: tuple[tuple[Capabilities, RenderContext], dict[bytes, str],
                         dict[int, tuple[Backend, bytes]]] | None = None

    def session(self, caps: Capabilities, ctx: RenderContext,
                render_one: Callable[[Backend], str]) -> RenderSession:
        """A :class:`RenderSession` for one render on ``caps`` / ``ctx``, reusing the last
        render's texts when that one was for the same target and context."""
        target = (caps, ctx)
        last = self.last
        if last is None or last[0] != target:
            return RenderSession(self, target, render_one, {})
        return RenderSession(self, target, render_one, last[1], last[2])

    def clear(self) -> None:
        """Forget every text (the next render writes every backend through the template)."""
        self.last = None
