"""The importer's round trip checked once per document (:mod:`lbctl.importer.roundtrip`), each
proxy validated once, and the fast paths beside it (:mod:`lbctl.config.pause`,
:func:`lbctl.config.normal.text_directives`, :func:`lbctl.spec.types.valid_host`).

The guarantee is the one the per-backend render gave: on every corpus file and target, the
import (spec, origins, or the errors) is exactly the import that checks each backend with its
own :func:`lbctl.render.render_proxy` and validates every proxy from its dict; one render of all
backends gives each backend's text as :func:`~lbctl.render.render_proxy` does; a backend whose
first mapping does not render back is mapped again and keeps its line.
"""

from __future__ import annotations

import gc
import ipaddress
import itertools
from pathlib import Path
from typing import Any

import pytest

from lbctl.config import loads
from lbctl.config.document import Document
from lbctl.config.grammar import lex
from lbctl.config.normal import _normal, text_directives
from lbctl.config.pause import gc_paused
from lbctl.errors import LbctlError, SpecError
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.importer import core, import_config
from lbctl.importer.memo import SectionMemo
from lbctl.importer.proxies import Mapped
from lbctl.importer.roundtrip import BACKEND_CONTEXT, RoundTrips, render_backends
from lbctl.render import render_proxy
from lbctl.spec import Backend
from lbctl.spec.types import valid_host

from .config_corpus import SKIP_REASON, corpus_files

TARGETS = [HAProxyVersion(2, 8, 25), HAProxyVersion(2, 0, 0)]


def _corpus() -> list[Any]:
    files = corpus_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON), id="absent")]
    return [pytest.param(path, id=path.name) for path in files]


def _outcome(doc: Document, caps: Capabilities) -> tuple[Any, ...]:
    try:
        imported = import_config(doc, caps=caps)
    except SpecError as exc:
        return ("refused", [(e.loc, e.message, e.line) for e in exc.errors])
    return ("imported", imported.spec, imported.origin)


def _each_backend_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The import as it was: every backend rendered by itself, every proxy validated from
    its dict by validate_spec, no section kept from an import before (lbctl.importer.memo)."""
    read_backend = core.read_backend
    monkeypatch.setattr(core, "MEMO", SectionMemo())

    def alone(*args: Any, deferred: bool = False, **kwargs: Any) -> Mapped:
        return read_backend(*args, **kwargs)

    monkeypatch.setattr(core, "read_backend", alone)
    monkeypatch.setattr(core._Importer, "_keep_model", lambda *args: None)


@pytest.mark.parametrize("path", _corpus())
def test_one_render_imports_as_a_render_per_backend(path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    doc = loads(path.read_text(encoding="utf-8", errors="replace"))
    for target in TARGETS:
        caps = Capabilities.for_target(target)
        core.MEMO.clear()  # the walk itself, not sections kept from the other target's import
        batched = _outcome(doc, caps)
        with monkeypatch.context() as m:
            _each_backend_alone(m)
            alone = _outcome(doc, caps)
        assert batched == alone, f"{path.name} on {target}"


def test_render_backends_writes_each_backend_as_render_proxy() -> None:
    files = corpus_files()
    if not files:
        pytest.skip(SKIP_REASON)
    caps = Capabilities.for_target(TARGETS[0])
    checked = 0
    for path in files:
        try:
            imported = import_config(loads(path.read_text(encoding="utf-8", errors="replace")))
        except LbctlError:
            continue  # refused (tests/test_import_corpus.py pins which): no backends to render
        backends = imported.spec.backends
        texts = render_backends(backends, caps, BACKEND_CONTEXT)
        assert texts == [render_proxy(be, caps, BACKEND_CONTEXT) for be in backends], path.name
        checked += len(backends)
    assert checked > 500


def test_a_backend_that_does_not_render_back_is_mapped_again() -> None:
    # 2.0 writes "option httpchk HEAD /" for a bare "option httpchk": the health check field
    # validates but does not come back the same, so the line stays an extra line.
    doc = loads("frontend www\n    bind :80\n    default_backend db\n"
                "backend db\n    option httpchk\n    server s1 10.0.0.1:80 check\n"
                "backend app\n    balance roundrobin\n    server s1 10.0.0.2:80\n")
    caps = Capabilities.for_target(HAProxyVersion(2, 0, 0))
    pending = RoundTrips(caps)
    from lbctl.importer.backends import read_backend

    for section in doc.sections_of("backend"):
        lines = [ln for ln in section.lines[1:] if ln.kind != "blank"]
        mapped = read_backend(section.name or "", None, lines, set(), caps, deferred=True)
        pending.add(section.name, mapped, lines)
    assert pending.failures() == {"db"}
    spec = import_config(doc, caps=caps).spec
    db, app = spec.backends
    assert db.extra == ["option httpchk"] and db.health_check is not None
    assert db.health_check.type == "custom" and [s.name for s in db.servers] == ["s1"]
    assert app.balance == "roundrobin" and app.extra == []


def test_texts_that_cannot_be_told_apart_are_each_checked_alone() -> None:
    caps = Capabilities.for_target(TARGETS[0])
    doc = loads("backend b\n    server s1 10.0.0.1:80\n")
    lines = doc.sections[0].lines[1:]
    model = Backend.model_validate({"name": "b", "servers": [
        {"name": "s1", "address": "10.0.0.1", "port": 80, "comment": ["# a\0b"]}]})
    pending = RoundTrips(caps)
    pending.add("b", Mapped({"name": "b"}, {id(lines[0]): (lines[0], "servers[0]")}, model),
                lines)
    assert render_backends([model], caps, BACKEND_CONTEXT) is None
    assert pending.failures() == {"b"}
    with pytest.raises(TypeError):
        RoundTrips(caps).add("b", Mapped({"name": "b"}), lines)


def test_the_import_validates_each_proxy_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    validate = Backend.model_validate.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Backend], data: Any, **kwargs: Any) -> Backend:
        calls.append(data["name"])
        return validate(cls, data, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Backend, "model_validate", classmethod(counted))
    text = "".join(f"backend b{i}\n    server s1 10.0.0.{i}:80\n" for i in range(1, 4))
    spec = import_config(loads(text)).spec
    assert calls == ["b1", "b2", "b3"]
    assert [b.servers[0].address for b in spec.backends] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    # Imported again with b2 changed: b1 and b3 are the last import's (lbctl.importer.memo).
    calls.clear()
    again = import_config(loads(text.replace("10.0.0.2:80", "10.0.0.9:80"))).spec
    assert calls == ["b2"]
    assert again.backends[0] is spec.backends[0] and again.backends[2] is spec.backends[2]
    assert again.backends[1].servers[0].address == "10.0.0.9"


@pytest.mark.parametrize("path", _corpus())
def test_text_directives_reads_lines_as_the_lexer(path: Path) -> None:
    lines, expected = ["backend header"], []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            words = [w.value for w in lex(raw).words]
        except LbctlError:
            continue  # a line the grammar refuses: text_directives raises for it too
        lines.append(raw)
        if words:
            expected.append(_normal(words))
    assert text_directives("\n".join(lines)) == expected


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def test_valid_host_takes_exactly_the_ip_literals_ipaddress_takes() -> None:
    octets = ["0", "00", "01", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255",
              "256", "300", "001", "1000", "1a", "\u0663"]
    candidates = {".".join(parts) for parts in itertools.product(octets[:8], repeat=4)}
    candidates |= {".".join(parts) for parts in itertools.product(octets, repeat=2)}
    candidates |= {"1.2.3", "1.2.3.4.5", "1..2.3", "1.2.3.4.", ".1.2.3", "::1", "fe80::1",
                   "::ffff:10.0.0.1", "2001:db8::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
                   "::g", "example.com", "a-b.example", "10.0.0.1a", "localhost"}
    for text in sorted(candidates):
        try:
            valid_host(text)
        except ValueError:
            took = False
        else:
            took = True
        if _is_ip(text):
            assert took, text
        elif took:  # then a host name: letters, digits, '-', '.', not all digits and dots
            assert not text.replace(".", "").isdigit() and ":" not in text, text
