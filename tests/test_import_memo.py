"""Proxy sections kept from the last import (:mod:`lbctl.importer.memo`).

The guarantee: an import that reuses sections of the import before it is exactly the import
that reads every section (spec, origins, or the errors), on every corpus file, for the same
text again, for the text with its lines moved down, and right after another file's import; a
section whose lines or surroundings changed is read again; a reused proxy is the very model
of the import before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lbctl.config import loads
from lbctl.errors import SpecError
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.importer import import_config
from lbctl.importer.memo import MEMO
from lbctl.render import RenderContext

from .config_corpus import SKIP_REASON, corpus_files

CAPS = Capabilities.for_target(HAProxyVersion(2, 8, 25))


def _outcome(text: str, caps: Capabilities = CAPS, ctx: RenderContext | None = None
             ) -> tuple[Any, ...]:
    try:
        imported = import_config(loads(text), caps=caps, ctx=ctx)
    except SpecError as exc:
        return ("refused", [(e.loc, e.message, e.line) for e in exc.errors])
    return ("imported", imported.spec, imported.origin)


def _cold(text: str) -> tuple[Any, ...]:
    MEMO.clear()
    return _outcome(text)


def _texts() -> list[tuple[str, str]]:
    return [(path.name, path.read_text(encoding="utf-8", errors="replace"))
            for path in corpus_files()]


def test_every_corpus_file_imports_the_same_with_the_sections_kept() -> None:
    files = _texts()
    if not files:
        pytest.skip(SKIP_REASON)
    before: str | None = None
    for name, text in files:
        moved = "\n\n# moved down\n\n" + text
        cold, cold_moved = _cold(text), _cold(moved)
        if before is not None:  # right after another file's import
            _outcome(before)
            assert _outcome(text) == cold, f"{name} after the file before it"
        _outcome(text)
        assert _outcome(text) == cold, f"{name} imported again"
        assert _outcome(moved) == cold_moved, f"{name} with its lines moved down"
        before = text


def test_a_kept_proxy_is_the_model_of_the_import_before() -> None:
    files = _texts()
    if not files:
        pytest.skip(SKIP_REASON)
    shared = total = 0
    for _, text in files:
        MEMO.clear()
        try:
            first = import_config(loads(text), caps=CAPS).spec
        except SpecError:
            continue
        again = import_config(loads("\n" + text), caps=CAPS).spec
        assert again == first
        for kind in ("frontends", "backends", "listens"):
            pairs = list(zip(getattr(first, kind), getattr(again, kind), strict=True))
            shared += sum(a is b for a, b in pairs)
            total += len(pairs)
    # Every proxy the import kept as a whole model comes back as that very object; the others
    # (a proxy of a few kinds lbctl validates from its data) are equal (the specs are).
    assert total > 500 and shared / total > 0.9


def _routes_text(backends: str = "app api") -> str:
    routes = "".join(f"    use_backend {b} if {{ path_beg /{b}/ }}\n" for b in backends.split())
    return ("frontend www\n    bind 127.0.0.1:8080\n" + routes + "    default_backend app\n"
            + "".join(f"\nbackend {b}\n    balance roundrobin\n    server s1 10.0.0.1:80\n"
                      for b in backends.split()))


def test_a_changed_section_is_read_again_and_the_others_are_kept() -> None:
    text = _routes_text()
    first = import_config(loads(text), caps=CAPS)
    changed = text.replace("backend api\n    balance roundrobin", "backend api\n    balance leastconn")
    second = import_config(loads(changed), caps=CAPS)
    assert second.spec.frontends[0] is first.spec.frontends[0]
    assert second.spec.backends[0] is first.spec.backends[0]
    assert second.spec.backends[1] is not first.spec.backends[1]
    assert second.spec.backends[1].balance == "leastconn"
    assert second.origin == _cold(changed)[2]


def test_a_frontend_is_read_again_when_the_backends_it_may_name_change() -> None:
    import_config(loads(_routes_text()), caps=CAPS)
    # The same frontend lines, but backend "api" is now a section lbctl keeps whole (a name the
    # spec refuses is not): its use_backend line can no longer be a route.
    text = _routes_text().replace("\nbackend api\n", "\nbackend api_\n")
    warm = _outcome(text)
    assert warm == _cold(text)
    spec = warm[1]
    assert [r.backend for r in spec.frontends[0].routes] == ["app"]
    assert any("use_backend api" in line for line in spec.frontends[0].extra)


def test_a_bind_taken_by_a_frontend_before_it_stays_an_extra_line() -> None:
    second = "frontend two\n    bind 127.0.0.1:8081\n    default_backend app\n"
    tail = "\nbackend app\n    server s1 10.0.0.1:80\n"
    import_config(loads(second + tail), caps=CAPS)  # "two" took its bind as a field
    text = "frontend one\n    bind 127.0.0.1:8081\n    default_backend app\n\n" + second + tail
    warm = _outcome(text)
    assert warm == _cold(text)
    one, two = warm[1].frontends
    assert [str(b) for b in one.bind] == ["127.0.0.1:8081"] and two.bind == []
    assert two.extra == ["bind 127.0.0.1:8081"]


def test_sections_are_kept_for_one_target_and_render_context() -> None:
    text = _routes_text()
    a, b = RenderContext(Path("/run/a")), RenderContext(Path("/run/b"))
    import_config(loads(text), caps=CAPS, ctx=a)
    assert len(MEMO.generation(CAPS, a)) == 3
    assert MEMO.generation(CAPS, b) == {} and MEMO.generation(CAPS, None) == {}
    other = Capabilities.for_target(HAProxyVersion(2, 0, 0))
    assert MEMO.generation(other, a) == {}
    import_config(loads(text), caps=other, ctx=a)  # another target starts afresh
    assert MEMO.generation(CAPS, a) == {} and len(MEMO.generation(other, a)) == 3


def test_a_refused_import_keeps_the_sections_of_the_last_one() -> None:
    text = _routes_text()
    import_config(loads(text), caps=CAPS)
    kept = MEMO.generation(CAPS, None)
    assert len(kept) == 3
    with pytest.raises(SpecError):
        import_config(loads(text + "\nbackend app\n    server s2 10.0.0.2:80\n"), caps=CAPS)
    assert MEMO.generation(CAPS, None) is kept
    assert _outcome(text) == _cold(text)


def test_a_section_with_a_comment_above_a_server_is_keyed_by_its_blank_lines() -> None:
    with_blank = "backend b\n    # about s1\n\n    server s1 10.0.0.1:80\n"
    right_above = "backend b\n    # about s1\n    server s1 10.0.0.1:80\n"
    import_config(loads(with_blank), caps=CAPS)
    warm = _outcome(right_above)
    assert warm == _cold(right_above)
    assert warm[1].backends[0].servers[0].comment == ["# about s1"]
    assert warm[1].backends[0].extra == []
