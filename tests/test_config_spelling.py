"""Misspelled keywords (:mod:`lbctl.config.spelling`): a typo of a listed keyword is named at
its line with the keyword it resembles; no line of the 243 real-world configs is."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbctl.config import loads
from lbctl.config.spelling import misspelled
from tests.config_corpus import corpus_files

TEXT = """global
    maxconn 100
    stats timout 30s
defaults
    timout connect 5s
frontend web
    bind :80
    htp-request deny
    use-server s1 if TRUE
    http-request return status 200
backend app
    balanse roundrobin
"""


def test_typos_are_named_with_their_line_and_the_keyword_they_resemble() -> None:
    found = [(m.line, m.kind, m.section, m.keyword, m.suggestion) for m in misspelled(loads(TEXT))]
    assert found == [
        (5, "defaults", None, "timout", "timeout"),
        (8, "frontend", "web", "htp-request", "http-request"),
        (12, "backend", "app", "balanse", "balance"),
    ]
    first = misspelled(loads(TEXT))[1]
    assert first.message() == "unknown keyword 'htp-request' in frontend web; did you mean 'http-request'?"


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_no_line_of_a_real_config_is_taken_for_a_typo(path: Path) -> None:
    assert misspelled(loads(path.read_text(encoding="utf-8", errors="replace"))) == []
