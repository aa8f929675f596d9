"""The confirm-to-empty rule: a write must not silently leave HAProxy serving nothing.

A spec can be valid and still wipe the load balancer: an empty document, a source text with
only ``global``, a rollback to a version before the first frontend. :func:`emptying_reasons`
names what a write would lose; :func:`check` refuses it with
:class:`lbctl.errors.ConfirmationRequired` (409) unless the caller confirmed it explicitly
(``allow_empty=true`` on the API, ``--allow-empty`` on the CLI). A confirmed write is recorded
with what it confirmed (the history's ``confirmed`` column).

Two losses count:

* **no listener**: the new spec has no frontend and no ``listen`` section (port after port
  stops answering);
* **a backend in use emptied**: a backend that a frontend of the new spec routes to
  (``default_backend`` or a route) had servers in the current spec and has none in the new.
"""

from __future__ import annotations

from lbctl.errors import ConfirmationRequired
from lbctl.spec import Spec

__all__ = ["check", "emptying_reasons"]


def emptying_reasons(current: Spec | None, new: Spec) -> list[str]:
    """What applying ``new`` over ``current`` would lose, in words (empty: nothing)."""
    reasons: list[str] = []
    if not new.frontends and not any(s.kind == "listen" for s in new.sections):
        reasons.append("the spec has no frontend and no listen section: HAProxy would listen "
                       "on no port")
    used = {fe.default_backend for fe in new.frontends if fe.default_backend}
    used |= {route.backend for fe in new.frontends for route in fe.routes}
    # One dict, not Spec.backend per backend: that scan was quadratic (10,000 backends: minutes).
    previous = {b.name: b for b in current.backends} if current is not None else {}
    for backend in new.backends:
        if backend.name not in used or backend.servers:
            continue
        before = previous.get(backend.name)
        if before is not None and before.servers:
            reasons.append(f"backend {backend.name} is in use and would lose all its servers "
                           f"({', '.join(s.name for s in before.servers)})")
    return reasons


def check(current: Spec | None, new: Spec, *, allow_empty: bool) -> str | None:
    """``None`` when ``new`` loses nothing; the confirmed reasons (``"; "``-joined) when it
    does and ``allow_empty``; else raises :class:`ConfirmationRequired`."""
    reasons = emptying_reasons(current, new)
    if not reasons:
        return None
    if not allow_empty:
        raise ConfirmationRequired(reasons)
    return "; ".join(reasons)
