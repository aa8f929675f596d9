"""Where the real-world ``haproxy.cfg`` corpus is: ``../shared/corpus/haproxy-cfg`` beside the
repository (CI has the same layout), or ``$LBCTL_CORPUS``; ``None`` when neither exists.

What the corpus holds is pinned here, so a shrunken corpus or a file that stops importing
fails a test instead of passing quietly. Absent, its tests skip, and under ``CI=true`` that
skip is a failure (``tests/conftest.py``)."""

from __future__ import annotations

import os
from pathlib import Path

ENV = "LBCTL_CORPUS"


def corpus_dir() -> Path | None:
    """The corpus folder, or ``None`` when it is absent."""
    beside = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "haproxy-cfg"
    if beside.is_dir():
        return beside
    env = os.environ.get(ENV)
    if env and Path(env).is_dir():
        return Path(env)
    return None


def corpus_files() -> list[Path]:
    """Every ``NNN.cfg`` of the corpus, in name order (empty when it is absent)."""
    folder = corpus_dir()
    return sorted(folder.glob("*.cfg")) if folder else []


SKIP_REASON = (
    "the haproxy-cfg corpus is absent: expected ../shared/corpus/haproxy-cfg beside the "
    f"repository, or a folder named by ${ENV}"
)

#: ``001.cfg`` .. ``243.cfg`` (the corpus README).
FILE_COUNT = 243

#: Files whose ``haproxy_c_2_6`` verdict in ``SOURCES.tsv`` is ``valid`` (the corpus README).
VALID_COUNT = 68

#: The files ``lbctl import`` refuses (for HAProxy 2.8.25), each with errors naming lines. A
#: file that imported before and is refused now (or the reverse) fails
#: ``tests/test_import_corpus.py``: change this set only on purpose.
IMPORT_REFUSED = frozenset({
    "005.cfg", "008.cfg", "010.cfg", "011.cfg", "023.cfg", "043.cfg", "053.cfg", "054.cfg",
    "070.cfg", "153.cfg", "191.cfg", "198.cfg", "209.cfg",
})

#: Valid-under-2.6 files each HAProxy (``major.minor``) rejects in a bare temp dir: 2.8 refuses
#: 128.cfg's ``option httpchk`` with headers after the version (use ``http-check send``).
BARE_DIR_REJECTS = {"2.6": frozenset[str](), "2.8": frozenset({"128.cfg"})}
