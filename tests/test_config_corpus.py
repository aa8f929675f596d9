"""The parser contract (STYLE.md): ``dumps(loads(text)) == text`` byte for byte for every file
of the real-world corpus (CRLF, tabs, missing final newlines, non-ASCII kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbctl.config import dumps, load, loads

from .bench.bench_parse import generate
from .config_corpus import FILE_COUNT, SKIP_REASON, corpus_files

FILES = corpus_files()


@pytest.mark.skipif(not FILES, reason=SKIP_REASON)
def test_corpus_is_complete() -> None:
    assert [p.name for p in FILES] == [f"{i:03}.cfg" for i in range(1, FILE_COUNT + 1)]


@pytest.mark.parametrize("path", FILES or [pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON))],
                         ids=lambda p: p.name if isinstance(p, Path) else "absent")
def test_round_trip_is_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    doc = load(path)
    assert dumps(doc).encode("utf-8", "surrogateescape") == data
    # Every line is in exactly one place: the preamble or one section.
    assert sum(1 for _ in doc.lines()) == data.count(b"\n") + (not data.endswith(b"\n") and bool(data))


@pytest.mark.parametrize("text", [
    "",
    "\n",
    "\r\n",
    "global",
    "global\r\n\tdaemon\r\n",
    "  # only a comment, no newline",
    "global\n    maxconn 10\n\n\n",
    "backend b\n server s 10.0.0.1:80\r",
    "backend caf\u00e9 # \u00fcml\u00e4ut\n  server s \u00e9.example:80\n",
    "frontend f\n\tbind :80 \t # tab then comment\t\n",
])
def test_round_trip_edge_cases(text: str) -> None:
    assert dumps(loads(text)) == text


def test_generated_benchmark_config_round_trips() -> None:
    text = generate(200)
    doc = loads(text)
    assert dumps(doc) == text
    assert len(doc.sections_of("backend")) == 200
