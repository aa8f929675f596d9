"""A pause of Python's cyclic garbage collector around a step that builds a large, acyclic
structure (a document of an 80,000-line config, its import, a line map).

CPython's collector runs a full collection whenever the objects that survived younger ones
grow by a quarter of the old ones; a step that builds hundreds of thousands of objects sets
off several, each scanning every object of the process (the agent's spec and documents too):
measured on the 80,000-line config of ``tests/bench/bench_parse.py``, more than half of an
import and most of a line map. Reference counting still frees everything as usual while the
collector is paused; only reference cycles wait for a later collection.

A pause that leaves many young objects (:data:`PROMOTE_AT`: a step that kept a large
structure) ends by moving every object the collector tracks into its oldest generation
(``gc.freeze()`` then ``gc.unfreeze()``: two list splices, no object visited), not by leaving
them young: after a plain ``gc.enable()`` the next allocation sets off a collection of the
youngest generation, which then holds every object the step built, then one of the middle
generation, and the objects they pass on count toward a full collection, each visiting all of
them. What such a step kept is long-lived by design (a document, a spec); the oldest
generation is where it would have ended up. Measured on five rounds of parse, import and
render of the 80,000-line config (each round a new document and spec, one process; medians of
five runs each way): the parse 1.18–1.34 → 0.93–1.07 s, the render after the import 1.47–1.76
→ 0.31–0.37 s (one full collection in the five rounds instead of three), the import itself
unchanged (2.6–3.2 s both ways).

What CPython no longer counts toward a full collection, this module does: once pauses have
moved :data:`FULL_AFTER` objects since the last full collection (CPython's own or this
module's), the pause that crosses it runs one as it ends. So a reference cycle a step dropped
(about a hundred objects in a whole parse and import) is collected within a bounded number of
large steps, as it would have been. A pause is left as a plain one when something else froze
objects (``gc.get_freeze_count()``: a pre-fork server's own freeze is left as it is).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["FULL_AFTER", "PROMOTE_AT", "gc_paused"]

#: Young objects at the end of an outermost pause from which they are moved into the oldest
#: generation (parsing the 80,000-line config leaves about 600,000, its import 300,000; a
#: small config a few dozen).
PROMOTE_AT = 50_000
#: Objects moved by pauses since the last full collection after which a pause's end runs one
#: (about three parses and imports of the 80,000-line config).
FULL_AFTER = 2_000_000
_moved = 0  # objects moved since the last full collection (under the GIL; a lost update only
#             shifts when the next full collection runs)


def _full_collection_seen(phase: str, info: dict[str, int]) -> None:
    """``gc.callbacks`` entry: a full collection, whoever ran it, starts the count afresh."""
    global _moved
    if phase == "stop" and info.get("generation") == 2:
        _moved = 0


gc.callbacks.append(_full_collection_seen)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for the ``with`` block (nested pauses are fine: only the
    outermost re-enables it, and only when it was enabled). Thread-safe in effect: the
    collector is process-wide, so another thread's pause may end first and re-enable it,
    which costs time, never correctness. The outermost pause may move the tracked objects
    into the oldest generation as it ends, and may run a full collection (module
    docstring)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            _resume()


def _resume() -> None:
    """Enable the collector at the end of an outermost pause (module docstring)."""
    global _moved
    young = gc.get_count()[0]
    if young < PROMOTE_AT or gc.get_freeze_count():
        gc.enable()
        return
    gc.freeze()
    gc.unfreeze()
    _moved += young
    gc.enable()
    if _moved >= FULL_AFTER:
        gc.collect()  # resets the count (_full_collection_seen)
