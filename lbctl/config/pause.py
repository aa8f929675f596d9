"""A pause of Python's cyclic garbage collector around a step that builds a large, acyclic
structure (a document of an 80,000-line config, its import, a line map).

CPython's collector runs a full collection whenever the objects that survived younger ones
grow by a quarter of the old ones; a step that builds hundreds of thousands of objects sets
off several, each scanning every object of the process (the agent's spec and documents too):
measured on the 80,000-line config of ``tests/bench/bench_parse.py``, more than half of an
import and most of a line map. Reference counting still frees everything as usual while the
collector is paused; only reference cycles wait for the next collection, after the step.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for the ``with`` block (nested pauses are fine: only the
    outermost re-enables it, and only when it was enabled). Thread-safe in effect: the
    collector is process-wide, so another thread's pause may end first and re-enable it,
    which costs time, never correctness."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
