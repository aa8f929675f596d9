"""Where the real-world ``haproxy.cfg`` corpus is: ``../shared/corpus/haproxy-cfg`` beside the
repository (CI has the same layout), or ``$LBCTL_CORPUS``; ``None`` when neither exists."""

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
