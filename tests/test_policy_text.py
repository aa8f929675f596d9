"""The host policy's line screen (:meth:`HostPolicy.screen_text`, what every live file passes)
gives exactly the refusals of the document screen (``screen(loads(text))``), on every corpus
file, every rendered test spec and texts built to hit each table (issue 19: the live-file check
no longer parses the whole text into a document)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from lbctl.config import loads
from lbctl.errors import ParseError
from lbctl.spec.policy import HostOptions, HostPolicy, Refusal
from lbctl.spec.policy_rules import (
    ADDRESS_ARGS,
    PATH_ARGS,
    PATH_OPTIONS,
    REFUSED,
    REFUSED_SECTIONS,
    RULE_FILE_WORDS,
    RULE_KEYWORDS,
)
from lbctl.spec.policy_text import read_sections

from .config_corpus import SKIP_REASON, corpus_files

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "haproxy-cfg"
GOLDEN = Path(__file__).resolve().parent / "golden"


def _policies(root: Path) -> list[HostPolicy]:
    return [HostPolicy.for_state(root, root / "run"),
            HostPolicy.for_state(root, root / "run", HostOptions(
                allow_paths=(Path("/etc"),), allow_directives=frozenset(("lua-load", "program"))),
                user="haproxy", group="haproxy")]


def _same(policy: HostPolicy, text: str) -> list[Refusal]:
    """Both screens of ``text`` agree; a text ``loads`` refuses (``no`` before a keyword that
    takes none) is still screened line by line, by the same rules as its lines alone."""
    own = lambda n: n % 2 == 0  # noqa: E731  (some lines lbctl's own, some not)
    got = policy.screen_text(text, own=own)
    assert policy.screen_text(text, own=own) == got  # again, with its clear lines known
    try:
        want = policy.screen(loads(text), own=own)
    except ParseError:
        return got
    assert got == want
    return got


def _table_texts() -> list[str]:
    """A line for every table entry, in every section kind it is keyed by, plainly and with
    quotes / ``no`` / ``default`` / a comment around it."""
    lines: list[tuple[str, str]] = []
    for kind, table in REFUSED.items():
        lines += [(kind, f"{k} /x/y") for k in table]
    for kind, paths in PATH_ARGS.items():
        lines += [(kind, f"{k} {' '.join(['a'] * n)} ../../etc/passwd") for k, (n, _) in paths.items()]
    for key, (n, _) in ADDRESS_ARGS.items():
        lines += [("frontend" if key == "bind" else "backend",
                   f"{key} {' '.join(['n'] * n)} unix@/tmp/s{',/tmp/t' if key == 'bind' else ''}")]
    for key, options in PATH_OPTIONS.items():
        lines += [("backend", f"{key} s 127.0.0.1:80 {o} /etc/shadow") for o in options]
    for key in RULE_KEYWORDS:
        lines += [("frontend", f"{key} return status 200 {w} /etc/shadow") for w in RULE_FILE_WORDS]
    lines += [("frontend", "acl bad path -f /etc/acl.lst"),
              ("frontend", "http-request set-var(txn.x) req.hdr(host),map_str(/etc/m.map)"),
              ("backend", "use-server s if { req.hdr(x),map(file@/etc/m) -m found }"),
              ("frontend", "http-request add-acl(../x.acl) foo"),
              ("global", "stats socket /tmp/admin.sock level admin"),
              ("global", "user haproxy"), ("global", "group haproxy"),
              ("global", "crt-base /etc/ssl"), ("frontend", "bind :443 crt site.pem")]
    texts = []
    for (kind, line), style in itertools.product(lines, range(4)):
        shown = [line, f'"{line.split()[0]}" {" ".join(line.split()[1:])}',
                 f"no {line}", f"default {line}  # c"][style]
        header = kind if kind in ("global", "defaults") else f"{kind} x"
        texts.append(f"global\n    crt-base /etc\n{header}\n    {shown}\n")
    texts += [f"{kind} p\n    command /bin/true\n" for kind in REFUSED_SECTIONS]
    texts += [f"{kind} p\n" for kind in REFUSED_SECTIONS]  # refused with no line in it
    texts += [".include /etc/x\nglobal\n    .bogus\n.if defined(X)\n    maxconn 1\n.endif\n",
              "global\n\tuser\troot\r\nfrontend f\n    [scope] bind /tmp/x\n    bind \\ /tmp/y\n"]
    return texts


@pytest.mark.parametrize("index", range(len(_table_texts())))
def test_every_table_entry(tmp_path: Path, index: int) -> None:
    text = _table_texts()[index]
    for policy in _policies(tmp_path):
        _same(policy, text)


def test_the_table_texts_are_refused(tmp_path: Path) -> None:
    """The texts above do hit the tables (so the comparison compares something)."""
    policy = _policies(tmp_path)[0]
    refused = [t for t in _table_texts() if policy.screen_text(t)]
    assert len(refused) > 0.8 * len(_table_texts())


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no corpus beside the repository")
def test_every_corpus_file(tmp_path: Path) -> None:
    read = 0
    for path in sorted(CORPUS.glob("*.cfg")):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        try:
            doc = loads(text)
        except ParseError:
            continue
        read += 1
        for policy in _policies(tmp_path):
            want = policy.screen(doc)
            assert policy.screen_text(text) == want, path.name
            assert policy.screen_text(text) == want, path.name  # its clear lines known
    assert read > 200


def test_every_golden_render(tmp_path: Path) -> None:
    for path in sorted(GOLDEN.glob("*.cfg")):
        for policy in _policies(tmp_path):
            _same(policy, path.read_text(encoding="utf-8"))


def test_a_path_is_screened_again_on_every_text(tmp_path: Path) -> None:
    """A clear line is one without a path; a line with a path is resolved every time, so a
    file replaced by a symlink out of the roots is refused on the next screen."""
    policy = HostPolicy.for_state(tmp_path, tmp_path / "run")
    (tmp_path / "files").mkdir()
    page = tmp_path / "files" / "503.http"
    page.write_text("HTTP/1.0 503\r\n\r\n")
    text = ("global\n    maxconn 100\ndefaults\n    mode http\nbackend b\n    balance roundrobin\n"
            f"    errorfile 503 {page}\n    server s1 127.0.0.1:80 weight 1\n")
    assert policy.screen_text(text) == []
    assert policy._clear.lines["backend"] == {"    balance roundrobin", "    server s1 127.0.0.1:80 weight 1"}
    page.unlink()
    page.symlink_to("/etc/passwd")
    assert [(r.line, r.directive) for r in policy.screen_text(text)] == [(7, "errorfile path")]


@pytest.mark.skipif(not corpus_files(), reason=SKIP_REASON)
def test_what_one_text_leaves_never_changes_the_next_texts_refusals(tmp_path: Path) -> None:
    """One policy screening the corpus file after file (each text skipping the clear lines the
    last one left) refuses exactly what a new policy refuses on each."""
    texts = [p.read_text(encoding="utf-8", errors="surrogateescape") for p in corpus_files()]
    for i, kept in enumerate(_policies(tmp_path)):
        skipped = 0
        for text in [*texts, *texts[:20]]:
            try:
                fresh = _policies(tmp_path)[i].screen_text(text)
            except ParseError:
                continue
            skipped += sum(len(lines) for lines in kept._clear.lines.values())
            assert kept.screen_text(text) == fresh
        assert skipped > 5_000  # clear lines were known, and skipped when they came again



def test_a_chunk_known_clear_is_not_read_again(tmp_path: Path) -> None:
    """A text screened again reads only the chunks that held more than clear lines (here the
    global section, whose ``crt-base`` is never clear, and the backend naming a file)."""
    policy = HostPolicy.for_state(tmp_path, tmp_path / "run")
    (tmp_path / "files").mkdir()
    backends = "".join(f"backend b{i}\n    balance roundrobin\n    server s1 127.0.0.1:80\n\n"
                       for i in range(50))
    text = (f"global\n    crt-base {tmp_path}/files\n    maxconn 10\ndefaults\n    mode http\n{backends}"
            f"backend e\n    errorfile 503 {tmp_path}/files/503.http\n")
    assert read_sections(text, policy._clear, {}).read != []
    assert policy.screen_text(text) == []
    again = read_sections(text, policy._clear, {})
    assert [chunk.key[1].split("\n")[0] for chunk in again.read] == ["global", "backend e"]
    assert [s.kind for s in again.sections] == ["global", "defaults", *["backend"] * 51]
    lines = text.split("\n")
    assert [s.lineno for s in again.sections][-2:] == [lines.index("backend b49") + 1,
                                                        lines.index("backend e") + 1]
    assert policy.screen_text(text) == []
    # A chunk found clear as a whole keeps its lines known one by one: b3 with one line
    # changed is read line by line, and only that line is screened.
    edited = text.replace("backend b3\n    balance roundrobin", "backend b3\n    balance leastconn")
    b3 = next(s for s in read_sections(edited, policy._clear, {}).sections
              if s.lineno == lines.index("backend b3") + 1)
    assert [words for _, _, words, _ in b3.lines] == [["balance", "leastconn"]]


@pytest.mark.parametrize("before", ["global\n    maxconn 1\n", "backend b\n    balance roundrobin\n",
                                    "userlist u\n    group g\n", ""])
@pytest.mark.parametrize("after", ["global\n    maxconn 1\n", "backend b\n    balance roundrobin\n",
                                   "userlist u\n    group g\n"])
def test_a_known_chunk_under_another_section_kind_is_read_there(tmp_path: Path, before: str,
                                                                after: str) -> None:
    """The chunk ``# c`` + ``user root`` is clear after a backend and refused after ``global``:
    a kept chunk is kept with the kind of section it was read in, and a chunk found clear opens
    its sections for the chunks after it."""
    tail = "# c\n    user root\n    stats socket /tmp/x.sock\n"
    for i, policy in enumerate(_policies(tmp_path)):
        for text in (before + tail, after + tail, before + after + tail, after + before + tail):
            assert policy.screen_text(text) == _policies(tmp_path)[i].screen_text(text), text
            _same(policy, text)
        refused = {r.directive for r in policy.screen_text(after + tail)}
        assert ("user" in refused) == after.startswith("global")


def test_only_the_last_texts_clear_chunks_are_kept(tmp_path: Path) -> None:
    """One generation: what a screen keeps is the last text's, however many texts came before
    (the memory is bounded by one text)."""
    policy = HostPolicy.for_state(tmp_path, tmp_path / "run")
    texts = [f"defaults\n    mode http\nbackend b{n}\n    balance roundrobin\n    server s{n} 127.0.0.1:80\n"
             for n in range(3)]
    for text in texts:
        assert policy.screen_text(text) == []
    assert {key[1] for key in policy._clear.chunks} == {"defaults\n    mode http",
                                                         "backend b2\n    balance roundrobin\n"
                                                         "    server s2 127.0.0.1:80"}
    # the lines of the last text, those of the chunks found clear as a whole (defaults) too
    assert {k: v for k, v in policy._clear.lines.items() if v} == {
        "defaults": {"    mode http"}, "backend": {"    balance roundrobin", "    server s2 127.0.0.1:80"}}
