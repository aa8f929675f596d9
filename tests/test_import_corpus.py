"""``lbctl import`` on the real-world corpus (``../shared/corpus/haproxy-cfg``).

For every corpus file Debian's HAProxy 2.6 accepts (``SOURCES.tsv``, column
``haproxy_c_2_6`` = ``valid``), on each HAProxy binary that accepts the original here too:
``render(import(file))`` passes ``haproxy -c``, and per section the multiset of normalised
directives (:mod:`lbctl.config.normal`) is the original's — lbctl's own lines (its stats
socket, ``stats timeout 30s``, its log lines, ``option idle-close-on-response``, ``peers lbctl``, the
``lbctl_*`` sections) excluded on both sides — and every comment is still there. A file the
binary rejects in a bare temp dir (it needs side files: certificates, Lua files, error files;
or that version refuses it) is skipped with HAProxy's reason; which files those are, per
version, is pinned (``BARE_DIR_REJECTS`` in ``tests/config_corpus.py``).

For every corpus file, valid or not: import either succeeds and keeps every directive and
comment, and importing its rendering renders the same bytes, or fails with errors that each
name a line — never a line dropped silently. Which
files fail is pinned (``IMPORT_REFUSED``, less ``DEFAULTS_IMPORTED``): a file going from
"imports" to "refused" fails.
"""

from __future__ import annotations

import csv
import functools
import shutil
from collections import Counter
from pathlib import Path

import pytest

from lbctl.config import Document, load, loads
from lbctl.config.normal import SectionKey, section_directives
from lbctl.errors import ConfigRejected, SpecError
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.haproxy.binary import HAProxyBinary, inspect_binary
from lbctl.haproxy.validate import check_file, check_text
from lbctl.importer import import_config
from lbctl.render import RenderContext, peer_args, render

from .config_corpus import (
    BARE_DIR_REJECTS,
    IMPORT_REFUSED,
    SKIP_REASON,
    VALID_COUNT,
    corpus_dir,
    corpus_files,
)

#: The files refused before for their several defaults sections ("a second defaults section",
#: "a proxy before the defaults section"), which import now, each defaults section where it
#: was (tests/test_import_defaults.py); ``IMPORT_REFUSED`` still lists them.
DEFAULTS_IMPORTED = frozenset({"005.cfg", "043.cfg", "053.cfg", "054.cfg"})
REFUSED = IMPORT_REFUSED - DEFAULTS_IMPORTED


def _valid_files() -> list[Path]:
    folder = corpus_dir()
    if folder is None:
        return []
    with (folder / "SOURCES.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [folder / r["file"] for r in rows if r["haproxy_c_2_6"] == "valid"]


VALID = _valid_files()
ALL = corpus_files()


def _params(files: list[Path]) -> list[object]:
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON), id="absent")]
    return [pytest.param(p, id=p.name) for p in files]


@functools.cache
def _binary(path: str) -> HAProxyBinary:
    return inspect_binary(path)


def _own(key: SectionKey, words: tuple[str, ...], ctx: RenderContext) -> bool:
    """lbctl's own lines, which rendering always writes."""
    kind, name = key
    if name is not None and name.lower().startswith("lbctl"):
        return True
    if kind == "global":
        return (words[:3] == ("stats", "socket", str(ctx.stats_socket))
                or words == ("stats", "timeout", "30s") or words[:1] == ("localpeer",)
                or words == ("log", str(ctx.log_socket), "local0")
                or (words[:1] == ("lua-load",) and words[-1].endswith("lbctl_pace.lua")))
    return kind == "defaults" and words in (("option", "idle-close-on-response"),
                                            ("log", "global"), ("option", "httplog"))


def _directives(doc: Document, ctx: RenderContext) -> dict[SectionKey, Counter[tuple[str, ...]]]:
    out = {}
    for key, counter in section_directives(doc).items():
        kept = Counter({w: n for w, n in counter.items() if not _own(key, w, ctx)})
        if kept:
            out[key] = kept
    return out


def _comments(doc: Document) -> Counter[str]:
    return Counter(ln.comment.strip() for ln in doc.lines() if ln.comment and ln.comment.strip("# \t"))


def test_valid_files_are_pinned() -> None:
    if not ALL:
        pytest.skip(SKIP_REASON)
    assert len(VALID) == VALID_COUNT
    assert {p.name for p in ALL} >= IMPORT_REFUSED >= DEFAULTS_IMPORTED
    assert all(rejects <= {p.name for p in VALID} for rejects in BARE_DIR_REJECTS.values())


@pytest.mark.parametrize("path", _params(VALID))
def test_render_of_import_is_accepted_and_keeps_every_directive(
        path: Path, haproxy_bin: str, short_dir: Path) -> None:
    binary = _binary(haproxy_bin)
    caps = binary.capabilities()
    expected_rejects = BARE_DIR_REJECTS[f"{binary.version.major}.{binary.version.minor}"]
    shutil.copy(path, short_dir / path.name)
    try:
        check_file(binary, short_dir / path.name)
    except ConfigRejected as exc:
        assert path.name in expected_rejects, f"HAProxy {binary.version} newly rejects {path.name}: {exc}"
        pytest.skip(f"HAProxy {binary.version} rejects the original in a bare directory too: {exc}")
    assert path.name not in expected_rejects, f"HAProxy {binary.version} accepts {path.name} now"
    ctx = RenderContext(short_dir)
    doc = load(path)
    imported = import_config(doc, caps=caps, ctx=ctx)
    text = render(imported.spec, caps, ctx)
    check_text(binary, text, directory=short_dir, extra_args=peer_args(caps))
    rendered = loads(text)
    assert _directives(rendered, ctx) == _directives(doc, ctx)
    assert _comments(doc) - _comments(rendered) == Counter()


@pytest.mark.parametrize("path", _params(ALL))
def test_import_never_drops_a_line_silently(path: Path) -> None:
    caps = Capabilities.for_target(HAProxyVersion(2, 8, 25))
    ctx = RenderContext(Path("/run/lbctl"))
    doc = load(path)
    try:
        imported = import_config(doc, caps=caps, ctx=ctx)
    except SpecError as exc:
        assert path.name in REFUSED, f"{path.name} imported before and is refused now: {exc.errors}"
        assert exc.errors and all(e.line is not None for e in exc.errors), exc.errors
        return
    assert path.name not in REFUSED, f"{path.name} imports now: update IMPORT_REFUSED"
    text = render(imported.spec, caps, ctx)
    rendered = loads(text)
    assert _directives(rendered, ctx) == _directives(doc, ctx)
    assert _comments(doc) - _comments(rendered) == Counter()
    again = import_config(rendered, caps=caps, ctx=ctx).spec
    assert render(again, caps, ctx) == text  # a second import changes nothing
