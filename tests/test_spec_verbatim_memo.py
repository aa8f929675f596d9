""":func:`lbctl.spec.checks.verbatim_errors` does not read again the proxies of the last spec
it checked that had no bad line (the very objects: the importer's kept sections, an apply's
known proxies), and finds every bad line as a fresh check does: in a proxy met for the first
time, in one whose lines were bad the last time, and in a new object equal to a clean one's
fields but for one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lbctl.config import loads
from lbctl.errors import ParseError, SpecError
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.importer import import_config
from lbctl.render import RenderContext
from lbctl.spec import Spec, checks

from .config_corpus import SKIP_REASON, corpus_files


def fresh(spec: Spec) -> list[Any]:
    """The errors with nothing remembered."""
    checks._CLEAN = {}
    return checks.verbatim_errors(spec)


def backend(name: str, *, extra: list[str] = (), server_comment: list[str] = ()) -> dict[str, Any]:
    return {"name": name, "extra": list(extra), "servers": [
        {"name": "s1", "address": "127.0.0.1", "port": 80, "comment": list(server_comment)}]}


def spec_of(*backends: dict[str, Any]) -> Spec:
    """A spec model with the fields as given (pydantic only: the verbatim rules not applied)."""
    return Spec.model_validate({"backends": list(backends)})


def test_a_kept_proxy_is_skipped_and_a_bad_one_found_every_time() -> None:
    spec = spec_of(backend("a", extra=["http-request deny"]),
                   backend("b", extra=["frontend inside"]),
                   backend("c", server_comment=["no hash"]))
    want = fresh(spec)
    assert [e.loc for e in want] == ["backends[1].extra[0]", "backends[2].servers[0].comment[0]"]
    assert checks.verbatim_errors(spec) == want  # again: b and c read again, a skipped
    assert set(checks._CLEAN) == {id(spec.backends[0])}
    # The clean backend in a new spec, beside a bad copy of it (a new object).
    bad_a = spec.backends[0].model_copy(update={"extra": ["backend x"]})
    other = Spec.model_construct(backends=[spec.backends[0], bad_a])
    assert checks.verbatim_errors(other) == fresh(other)
    assert [e.loc for e in checks.verbatim_errors(other)] == ["backends[1].extra[0]"]


@pytest.mark.skipif(not corpus_files(), reason=SKIP_REASON)
def test_a_corpus_walk_gives_what_fresh_checks_give() -> None:
    """Each corpus file imported, its spec checked with what the last one left remembered,
    then again (its proxies then all remembered): the errors a fresh check gives, each time."""
    caps = Capabilities.for_target(HAProxyVersion(2, 8, 25))
    ctx = RenderContext(Path("/run/lbctl"))
    checked = 0
    for path in corpus_files():
        try:
            spec = import_config(loads(path.read_text(encoding="utf-8", errors="surrogateescape")),
                                 caps=caps, ctx=ctx).spec
        except (ParseError, SpecError):
            continue
        remembered = checks.verbatim_errors(spec)
        again = checks.verbatim_errors(spec)
        assert remembered == again == fresh(spec), path.name
        checks.verbatim_errors(spec)
        assert len(checks._CLEAN) == len(spec.frontends) + len(spec.backends) + len(spec.listens)
        checked += 1
    assert checked > 200
