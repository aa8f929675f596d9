"""Routes as configs write them → a frontend's ``routes`` (:class:`lbctl.spec.Route`), where
they map exactly (configuration.txt §7.1 "ACL basics", §4.2 "use_backend"):

* ``acl <name> path_beg /p/`` + ``use_backend <backend> if <name>`` → ``{path_prefix: /p/,
  backend, acl: <name>}``; ``acl <name> path /p`` + ``acl <name> path_beg /p/`` (lbctl's
  segment-wise prefix ``/p``) → ``{path_prefix: /p, backend, acl: <name>}``;
* ``use_backend <backend> if { path_beg /p/ }`` → ``{path_prefix: /p/, backend, inline: true}``.

Only a prefix ending in ``/`` maps from a lone ``path_beg``: ``path_beg /p`` also matches
``/pq``, which no route means. Every ``acl`` line of the name must be one of the route's, the
backend a proxy of the file, the ACL written before the rule (HAProxy refuses a rule naming
an ACL it has not read yet), and the lines plain (no ``no``, no comment beside them, outside
``.if`` blocks). The routes are the ``use_backend`` lines from the first one on, up to the first
that does not map (rules keep their order); whether they render back as written (lbctl writes
routes longest prefix first) is :func:`lbctl.importer.proxies.renders_back`'s to say.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from lbctl.config.document import Line
from lbctl.importer.words import plain
from lbctl.spec.types import Name, PathPrefix

__all__ = ["merge_routes", "user_routes"]

_NAME: TypeAdapter[str] = TypeAdapter(Name)
_PREFIX: TypeAdapter[str] = TypeAdapter(PathPrefix)


def _valid(adapter: TypeAdapter[str], value: str) -> bool:
    try:
        adapter.validator.validate_python(value)
    except ValidationError:
        return False
    return True


def _acl_prefix(lines: list[Line]) -> str | None:
    """The prefix the ``acl`` lines of one name test, in lbctl's shapes, else ``None``."""
    shape = [ln.args[1:] for ln in lines if len(ln.args) == 3]
    if len(shape) != len(lines):
        return None
    if len(shape) == 1 and shape[0][0] == "path_beg" and shape[0][1].endswith("/"):
        return shape[0][1]
    if len(shape) == 2 and shape[0][0] == "path" and shape[1] == ("path_beg", shape[0][1] + "/"):
        return shape[0][1]
    return None


def user_routes(lines: list[Line], blocked: set[int],
                proxies: frozenset[str]) -> tuple[list[dict[str, Any]], list[tuple[Line, str]]]:
    """The routes of a frontend's ``lines`` (``blocked``: ids of lines inside ``.if``
    blocks) whose backends are among ``proxies``, and the lines they came from with their
    field paths (``routes[i]``, its ACL lines ``routes[i].acl`` and
    ``routes[i].path_prefix``); empty when none maps."""
    acls: dict[str, list[Line]] = {}
    for line in lines:
        if line.directive is not None and line.directive.keyword == "acl" and line.args:
            acls.setdefault(line.args[0], []).append(line)
    routes: list[dict[str, Any]] = []
    placed: list[tuple[Line, str]] = []
    used: set[str] = set()
    for line in lines:
        if line.directive is None or line.directive.keyword != "use_backend":
            continue
        a = line.args
        if id(line) in blocked or not plain(line) or not a or a[0] not in proxies \
                or not _valid(_NAME, a[0]):
            break
        where = f"routes[{len(routes)}]"
        if len(a) == 6 and a[1:4] == ("if", "{", "path_beg") and a[5] == "}" \
                and a[4].endswith("/") and _valid(_PREFIX, a[4]):
            routes.append({"path_prefix": a[4], "backend": a[0], "inline": True})
            placed.append((line, where))
            continue
        if len(a) != 3 or a[1] != "if" or a[2] in used or not _valid(_NAME, a[2]):
            break
        defined = acls.get(a[2], [])
        prefix = _acl_prefix(defined)
        if prefix is None or not _valid(_PREFIX, prefix) or any(
                id(ln) in blocked or not plain(ln) or ln.lineno > line.lineno for ln in defined):
            break
        used.add(a[2])
        routes.append({"path_prefix": prefix, "backend": a[0], "acl": a[2]})
        placed += [(ln, f"{where}.{key}") for ln, key in zip(defined, ("acl", "path_prefix"),
                                                              strict=False)]
        placed.append((line, where))
    return routes, placed


def merge_routes(indexed: dict[int, dict[str, Any]],
                 user: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """One ``routes`` list of lbctl's own routes (``lbctl_route_<i>``: ``indexed`` by ``i``,
    their place in the list) and the routes a config writes (``user``, in the order they are
    written), which take the free places in that order; ``None`` when an index is past the
    end. Rendering it writes the same rules (longest prefix first; among equal lengths, in list
    order), which :func:`lbctl.importer.proxies.renders_back` checks."""
    total = len(indexed) + len(user)
    if any(i >= total for i in indexed):
        return None
    free = iter(user)
    return [indexed[i] if i in indexed else next(free) for i in range(total)]
