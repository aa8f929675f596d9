"""Host safety: the one policy every text passes before ``haproxy -c`` or the live file sees it.

``haproxy -c`` is not a sandbox, and HAProxy's configuration can run programs and read files:
``lua-load`` runs Lua while the file is parsed, ``program`` sections start commands,
``http-request return ... file /root/x`` serves any file HAProxy can read (it reads them as
root, before dropping privileges). A config writer would be a host user. This module draws the
line (issue 14, README "Security model"):

* **refused directives** (:data:`lbctl.spec.policy_rules.REFUSED`): ``program`` sections,
  ``master-worker``, ``daemon``, ``nbproc``, ``lua-load*`` (but lbctl's own pacing script),
  ``external-check``, ``setenv`` & co., ``user``/``group``/``uid``/``gid``/``chroot`` (lbctl
  sets them), ``stats socket`` (but lbctl's own), and the rest of that table;
* **paths**: every file path a line names (``errorfile``, ``crt``, ``ca-file``, ``-f`` ACL
  files, ``map_*()`` files, ``http-request return ... file``, ...) and every UNIX socket path of
  an address (``bind /x``, ``server s unix@/x``, ``log /dev/log``) must resolve — after ``..``
  and symlinks, :func:`os.path.realpath` — under an allowed root. Files: lbctl's asset dir,
  ``<state dir>/files``, the certificate store ``<state dir>/certs`` and the operator's
  roots. Sockets: the run dir and the operator's roots.
  The state dir itself is no file root: it holds the agent's token in plain text.

Only the host operator widens it, when the agent starts (:class:`HostOptions`:
``lbctl serve --allow-path DIR --allow-directive NAME``, ``LBCTL_ALLOW_PATHS``,
``LBCTL_ALLOW_DIRECTIVES``); an allowed directive's paths are still checked. The API cannot
change it; ``GET /api/v1/haproxy`` reports it (:meth:`HostPolicy.describe`).

Size: over 300 lines because the policy's one walk over a document checks directives, paths
and sockets together; its reading of a text line by line (:meth:`HostPolicy.screen_text`,
the live file's path: no document at 10,000 backends) is :mod:`lbctl.spec.policy_text`, the
tables themselves are in :mod:`lbctl.spec.policy_rules`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbctl import paths
from lbctl.config.document import DIRECTIVE, DOT, Document
from lbctl.errors import FieldError, PolicyRefused
from lbctl.spec import policy_rules as rules
from lbctl.spec.policy_text import Clear, Section, Words, read_sections

__all__ = ["ENV_ALLOW_DIRECTIVES", "ENV_ALLOW_PATHS", "HostOptions", "HostPolicy", "Refusal",
           "allowable_names", "refusal_error"]

#: Environment variables the agent reads at start-up (``os.pathsep``- / comma-separated).
ENV_ALLOW_PATHS = "LBCTL_ALLOW_PATHS"
ENV_ALLOW_DIRECTIVES = "LBCTL_ALLOW_DIRECTIVES"
_MAP_CALL = re.compile(r"(?<![A-Za-z0-9_.-])(map(?:_[a-z0-9]+)*|add-acl|del-acl|set-map|"
                       r"del-map|clear-map)\(([^,)]*)")
_HOW_PATH = ("the host operator can allow a directory when starting the agent: "
             f"lbctl serve --allow-path DIR (or {ENV_ALLOW_PATHS})")


def allowable_names() -> frozenset[str]:
    """Every name ``--allow-directive`` accepts (``lua-load``, ``program``, ``stats-socket``)."""
    names = {rules.ALLOW_NAMES.get(k, k) for table in rules.REFUSED.values() for k in table}
    return frozenset(names | set(rules.REFUSED_SECTIONS))


@dataclass(frozen=True)
class HostOptions:
    """What the host operator allows beyond the default policy, fixed at start-up:
    ``allow_paths`` (extra roots), ``allow_directives`` (names of :func:`allowable_names`),
    ``haproxy_user`` (who HAProxy's workers run as, when the agent runs as root)."""

    allow_paths: tuple[Path, ...] = ()
    allow_directives: frozenset[str] = frozenset()
    haproxy_user: str | None = None

    @classmethod
    def gather(cls, allow_paths: Iterable[str] = (), allow_directives: Iterable[str] = (),
               haproxy_user: str | None = None,
               environ: Mapping[str, str] = os.environ) -> HostOptions:
        """The command-line values plus :data:`ENV_ALLOW_PATHS` / :data:`ENV_ALLOW_DIRECTIVES`.
        Raises :class:`ValueError` for an unknown directive name or a relative path."""
        roots = [*allow_paths, *environ.get(ENV_ALLOW_PATHS, "").split(os.pathsep)]
        names = [*allow_directives, *environ.get(ENV_ALLOW_DIRECTIVES, "").split(",")]
        known = allowable_names()
        wanted = {n.strip().lower().replace(" ", "-") for n in names if n.strip()}
        unknown = sorted(wanted - known)
        if unknown:
            raise ValueError(f"unknown directive(s) to allow: {', '.join(unknown)} (known: "
                             f"{', '.join(sorted(known))})")
        out = []
        for root in (r.strip() for r in roots):
            if not root:
                continue
            if not os.path.isabs(root):
                raise ValueError(f"--allow-path needs an absolute directory (got {root!r})")
            out.append(Path(root))
        return cls(tuple(out), frozenset(wanted), haproxy_user or None)


@dataclass(frozen=True)
class Refusal:
    """One line the policy refuses: ``line`` (1-based in the screened text), ``directive``
    (the keyword, or ``"<keyword> path"``), ``message`` (why, and how to allow it)."""

    line: int
    directive: str
    message: str


def _real(path: str | Path) -> str:
    return os.path.realpath(path)


def _under(real: str, roots: Iterable[str]) -> bool:
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


@dataclass(frozen=True)
class HostPolicy:
    """The policy in force for one state dir (build it with :meth:`for_state`).

    ``cwd`` is where HAProxy resolves relative paths (lbctl runs it in the state dir);
    ``own_lua`` / ``own_socket`` are lbctl's pacing script and stats socket; ``user`` /
    ``group`` the identity lbctl renders into ``global`` (``None`` when not root)."""

    cwd: Path
    file_roots: tuple[Path, ...]
    socket_roots: tuple[Path, ...]
    allowed: frozenset[str] = frozenset()
    own_lua: Path | None = None
    own_socket: Path | None = None
    user: str | None = None
    group: str | None = None
    operator_roots: tuple[Path, ...] = ()
    _real_files: tuple[str, ...] = field(default=(), init=False, repr=False)
    _real_sockets: tuple[str, ...] = field(default=(), init=False, repr=False)
    #: What the last screened text left that no policy can refuse (:meth:`screen_text`).
    _clear: Clear = field(default_factory=Clear, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_real_files", tuple(_real(r) for r in self.file_roots))
        object.__setattr__(self, "_real_sockets", tuple(_real(r) for r in self.socket_roots))

    @classmethod
    def for_state(cls, state_root: Path, run_dir: Path, options: HostOptions | None = None, *,
                  user: str | None = None, group: str | None = None,
                  assets_dir: Path | None = None, socket_dir: Path | None = None) -> HostPolicy:
        """The policy of a state dir: file roots = assets, ``<state>/files``, ``<state>/certs``
        (the certificate store), the operator's;
        socket roots = ``run_dir``, ``socket_dir`` (lbctl's sockets the workers reach after
        dropping privileges, :func:`lbctl.haproxy.privileges.socket_dir`), the operator's."""
        options = options or HostOptions()
        assets = assets_dir or paths.assets_dir()
        extra = options.allow_paths
        own = (Path(run_dir),) if socket_dir is None else (Path(run_dir), Path(socket_dir))
        root = Path(state_root)  # <state>/certs: the certificate store (lbctl.render.tls)
        return cls(cwd=root, file_roots=(assets, root / "files", root / "certs", *extra),
                   socket_roots=(*own, *extra), allowed=options.allow_directives,
                   own_lua=assets / "lua" / "lbctl_pace.lua", own_socket=Path(run_dir) /
                   "haproxy.sock", user=user, group=group, operator_roots=extra)

    def describe(self) -> dict[str, Any]:
        """JSON-ready: ``{"file_roots", "socket_roots", "allowed_directives",
        "refused_directives", "haproxy_user", "haproxy_group"}``."""
        return {"file_roots": [str(r) for r in self.file_roots],
                "socket_roots": [str(r) for r in self.socket_roots],
                "allowed_directives": sorted(self.allowed),
                "refused_directives": sorted(allowable_names() - self.allowed),
                "haproxy_user": self.user, "haproxy_group": self.group}

    # -- screening ------------------------------------------------------------------------
    def screen(self, doc: Document, *, own: Callable[[int], bool] = lambda _n: True
               ) -> list[Refusal]:
        """Every refusal in ``doc``, in line order. ``own(lineno)`` says whether a line may be
        one of lbctl's own (``user``/``group`` at lbctl's values); the live-file check passes
        "not an extra line", so a spec can never set them."""
        dots = [(line.lineno, line.keyword) for line in doc.preamble if line.kind == DOT]
        sections = [Section(s.kind, s.lines[0].lineno,
                             [(line.lineno, line.kind == DOT, [w.value for w in line.words],
                               line.text) for line in s.lines[1:]
                              if line.kind in (DIRECTIVE, DOT) and line.words])
                    for s in doc.sections]
        return self._screen(dots, sections, own, {}, [])

    def screen_text(self, text: str, *, own: Callable[[int], bool] = lambda _n: True
                    ) -> list[Refusal]:
        """:meth:`screen` of ``text`` without building a :class:`Document`: the same refusals
        as ``screen(loads(text))`` (``tests/test_policy_text.py`` checks every corpus file and
        every rendered config), read line by line with the config lexer's reading of words
        (:func:`_read_sections`). Lines are screened, not validated: a text ``loads`` would
        refuse for its structure (an unclosed ``.if``, a header without a name) is left to
        ``haproxy -c``. Raises :class:`~lbctl.errors.ParseError` for a line the lexer cannot
        read.

        A line is *clear* when its words hold no refused keyword and no path at all (a
        ``server`` line with an IP address, ``balance``, ``timeout``): no root, file or
        option can make it refused, so its text alone decides. The clear lines of the last
        text are kept, per section kind, and so are its chunks (lines from one that starts
        at the line's first column to the next) that held nothing but clear lines and
        headers: the same line, or the same chunk in a section of the same kind, in the next
        text is not read again (an apply changes few sections of a large config;
        :mod:`lbctl.spec.policy_text`). Every other line is screened each time: paths are
        resolved anew, since a symlink may have changed."""
        clear: dict[str, set[str]] = {}
        unclear: list[int] = []
        reading = read_sections(text, self._clear, clear)
        out = self._screen(reading.dots, reading.sections, own, clear, unclear)
        object.__setattr__(self, "_clear", reading.next_clear(clear, unclear))
        return out

    def _screen(self, dots: list[tuple[int, str]], sections: list[Section],
                own: Callable[[int], bool], clear: dict[str, set[str]], unclear: list[int]
                ) -> list[Refusal]:
        """The refusals of the read text; the clear lines (see :meth:`screen_text`) are added
        to ``clear[kind]``, the line numbers of the others to ``unclear``."""
        out = [r for r in (self._dot(n, k) for n, k in dots) if r is not None]
        glob = next((s for s in sections if s.kind == "global"), None)
        bases = self._bases(glob.lines if glob is not None else [], {})
        for section in sections:
            kind = section.kind
            if kind in rules.REFUSED_SECTIONS and kind not in self.allowed:
                why, where = rules.REFUSED_SECTIONS[kind]
                out.append(self._refused(section.lineno, kind, kind, why, where))
                unclear += [line[0] for line in section.lines]
                continue
            if not section.lines:
                continue
            here = self._bases(section.lines, bases) if kind == "crt-store" else bases
            table = rules.REFUSED.get(kind, {})
            path_args = rules.PATH_ARGS.get(kind, {})
            seen = clear.setdefault(kind, set())
            for lineno, dot, words, text in section.lines:
                if dot:
                    refusal = self._dot(lineno, words[0])
                    if refusal is not None:
                        out.append(refusal)
                    unclear.append(lineno)
                    continue
                first = words[0]
                looked_up = first in _SCREENED or first in table or first in path_args or (
                    len(words) > 1 and (first in _PREFIXES or first in _TWO_WORD_FIRST))
                named = (looked_up or self._may_name_file(words)) and self._line(
                    kind, lineno, words, here, own, out)
                if not named and not first.endswith("-base"):
                    seen.add(text)
                else:
                    unclear.append(lineno)
        return out

    def _bases(self, lines: list[Words], start: dict[str, str]) -> dict[str, str]:
        bases = dict(start)
        for _lineno, dot, words, _text in lines:
            if not dot and words[0].endswith("-base") and len(words) > 1:
                bases[words[0]] = words[1]
        return bases

    def _dot(self, lineno: int, keyword: str) -> Refusal | None:
        if keyword not in rules.ALLOWED_DOTS:
            return Refusal(lineno, keyword, f"the dot-directive {keyword!r} is "
                           f"refused by the host policy (only {', '.join(sorted(rules.ALLOWED_DOTS))}"
                           "; configuration.txt §2.4)")
        return None

    def _refused(self, lineno: int, keyword: str, name: str, why: str, where: str) -> Refusal:
        return Refusal(lineno, keyword, (
            f"{keyword!r} is refused by the host policy: it {why} (configuration.txt {where}); "
            f"the host operator can allow it when starting the agent: lbctl serve "
            f"--allow-directive {name} (or {ENV_ALLOW_DIRECTIVES}={name})"))

    def _line(self, kind: str, lineno: int, words: list[str], bases: dict[str, str],
              own: Callable[[int], bool], out: list[Refusal]) -> bool:
        """Append the refusals of one directive to ``out``; whether the line names a refused
        keyword or a path at all (false: it is clear, whatever the roots and files)."""
        if words[0] in _PREFIXES and len(words) > 1:
            words = words[1:]
        table = rules.REFUSED.get(kind, {})
        two = " ".join(words[:2])
        keyword = two if two in table else words[0] if words[0] in table else None
        if keyword is not None and not self._own(keyword, words, lineno, own):
            name = rules.ALLOW_NAMES.get(keyword, keyword)
            if name not in self.allowed:
                out.append(self._refused(lineno, keyword, name, *table[keyword]))
                return True
        named = keyword is not None
        for what, value, sockets, base in self._paths(kind, words):
            named = True
            problem = self._path_problem(value, sockets, bases.get(base) if base else None)
            if problem is not None:
                out.append(Refusal(lineno, f"{what} path", f"{what}: {problem}; {_HOW_PATH}"))
        return named

    @staticmethod
    def _may_name_file(words: list[str]) -> bool:
        """Whether a line whose keyword names no table entry may still name a file: a ``-f``
        among its words or a ``map*()`` / ``*-acl()`` call in one (:meth:`_paths`)."""
        if len(words) > 2 and "-f" in words:
            return True
        return any("map" in w or "acl" in w for w in words[1:])

    def _own(self, keyword: str, words: list[str], lineno: int, own: Callable[[int], bool]
             ) -> bool:
        """lbctl's own lines: its pacing script, its stats socket, its user and group."""
        arg = words[2] if keyword == "stats socket" and len(words) > 2 else \
            words[1] if len(words) > 1 else ""
        if keyword in ("lua-load", "lua-load-per-thread") and self.own_lua is not None:
            return "$" not in arg and _real(self.cwd / arg) == _real(self.own_lua)
        if keyword == "stats socket" and self.own_socket is not None:
            return "$" not in arg and _real(self.cwd / arg) == _real(self.own_socket)
        if keyword in ("user", "group") and len(words) == 2 and own(lineno):
            return arg == (self.user if keyword == "user" else self.group) and arg != ""
        return False

    def _paths(self, kind: str, words: list[str]) -> Iterator[tuple[str, str, bool, str | None]]:
        """``(what, path, is_socket, base directive)`` for every path in a line's words."""
        key, n = words[0], len(words)
        fixed = rules.PATH_ARGS.get(kind, {}).get(key)
        if fixed is not None and fixed[0] + 1 < n:
            yield key, words[fixed[0] + 1], False, rules.BASE_OF.get(key)
        address = rules.ADDRESS_ARGS.get(key)
        if address is not None and address[0] + 1 < n:
            chunks = words[address[0] + 1].split(",") if key == "bind" else [words[address[0] + 1]]
            for chunk in chunks:
                sock = _socket_path(chunk)
                if sock is not None:
                    yield f"{key} address", sock, True, None
        after = rules.ADDRESS_KEYWORDS_AFTER.get(key)
        if after is not None and n > 2 and words[1] == after[0]:
            sock = _socket_path(words[2])
            if sock is not None:
                yield f"{key} {after[0]}", sock, True, None
        options = rules.PATH_OPTIONS.get(key, {})
        rule_words = rules.RULE_FILE_WORDS if key in rules.RULE_KEYWORDS else {}
        for i in range(1, n - 1):
            w = words[i]
            if w in options or w in rule_words:
                yield f"{key} {w}", words[i + 1], False, rules.BASE_OF.get(w)
            elif w == "-f":
                yield "-f (ACL/map file)", words[i + 1], False, None
        for w in words[1:]:
            if "map" not in w and "acl" not in w:  # every name of _MAP_CALL holds one
                continue
            for m in _MAP_CALL.finditer(w):
                name = m[2].strip().strip("'\"")
                if name.startswith("virt@") or not name:
                    continue
                for prefix in rules.FILE_PREFIXES:
                    name = name.removeprefix(prefix)
                yield f"{m[1]}() file", name, False, None

    def _path_problem(self, value: str, socket: bool, base: str | None) -> str | None:
        """Why ``value`` is not allowed, or ``None``: it must not depend on the environment,
        and every way HAProxy may read it (relative: from the state dir, and from ``base``)
        must resolve under a root."""
        if "$" in value:
            return f"{value!r} contains an environment variable: lbctl cannot tell where it points"
        candidates = [self.cwd / value]  # an absolute value replaces cwd
        if base is not None and not os.path.isabs(value):
            candidates.append(self.cwd / base / value)
        roots = self._real_sockets if socket else self._real_files
        for candidate in candidates:
            real = _real(candidate)
            if not _under(real, roots):
                kind = "socket" if socket else "file"
                shown = ", ".join(str(r) for r in (self.socket_roots if socket else self.file_roots))
                return (f"{value!r} resolves to {real} (after '..' and symlinks), outside the "
                        f"allowed {kind} roots ({shown})")
        return None


#: Keywords :meth:`HostPolicy._paths` looks at in any section (the tables' keys beyond
#: ``REFUSED`` and ``PATH_ARGS``, which depend on the section kind); a line with any other
#: keyword can only name a file through ``-f`` or a ``map*()`` call
#: (:meth:`HostPolicy._may_name_file`).
_SCREENED = frozenset((*rules.ADDRESS_ARGS, *rules.ADDRESS_KEYWORDS_AFTER, *rules.PATH_OPTIONS,
                       *rules.RULE_KEYWORDS))
#: ``no`` / ``default`` before a keyword (HAProxy reads the keyword after them).
_PREFIXES = frozenset(("no", "default"))
#: First words of the two-word entries of ``REFUSED`` (``stats socket``).
_TWO_WORD_FIRST = frozenset(k.split()[0] for table in rules.REFUSED.values() for k in table
                            if " " in k)
def _socket_path(address: str) -> str | None:
    """The UNIX socket path of an address (§2.9: ``/x``, ``unix@x``, ``uxst@x``, ``uxdg@x``,
    optionally after ``stream+`` / ``dgram+``), else ``None``."""
    for kind in ("stream+", "dgram+"):
        address = address.removeprefix(kind)
    for prefix in rules.SOCKET_PREFIXES:
        if address.startswith(prefix):
            return address[len(prefix):]
    return address if address.startswith("/") else None


def refusal_error(refusals: list[Refusal], loc_of: Callable[[int], str | None]) -> PolicyRefused:
    """A :class:`PolicyRefused` naming each refused line: ``loc`` the spec field ``loc_of(line)``
    gives (``global.extra[0]``), else ``line N`` with ``line`` set (a line of the source)."""
    errors = []
    for r in refusals:
        loc = loc_of(r.line)
        errors.append(FieldError(loc, r.message) if loc else
                      FieldError(f"line {r.line}", r.message, r.line))
    return PolicyRefused(errors, [r.directive for r in refusals])
