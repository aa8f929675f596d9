"""The host-safety policy's tables: which directives are refused, which words are paths.

Read by :mod:`lbctl.spec.policy`. Every entry names its source, a section of HAProxy's
configuration manual (``doc/configuration.txt``, 3.3 numbering; the keywords are the same in
2.6 and 2.8 where they exist there; ``program`` sections, gone in 3.1, cite the 2.8 manual).
Tables, not ``if`` chains: a keyword is refused, or its path arguments are found, by looking
it up here.

Three kinds of entries:

* :data:`REFUSED` — per section kind, the directives refused outright because they run code,
  change the process' identity or environment, or write files (``--allow-directive NAME``
  lifts one);
* :data:`PATH_ARGS` / :data:`PATH_OPTIONS` / :data:`RULE_FILE_WORDS` — where a file path is
  (a fixed argument, the word after an option such as ``crt``, the word after ``file`` in an
  ``http-request return``); every such path must resolve under an allowed root;
* :data:`ADDRESS_ARGS` — where an address is; one that is a UNIX socket path (``/x``,
  ``unix@x``) is a path too.
"""

from __future__ import annotations

__all__ = ["ADDRESS_ARGS", "ADDRESS_KEYWORDS_AFTER", "ALLOWED_DOTS", "ALLOW_NAMES", "BASE_OF",
           "FILE_PREFIXES", "MAP_FUNCTIONS", "PATH_ARGS", "PATH_OPTIONS", "PROXY_KINDS", "REFUSED",
           "REFUSED_SECTIONS", "RULE_FILE_WORDS", "RULE_KEYWORDS", "SOCKET_PREFIXES"]

PROXY_KINDS = frozenset(("frontend", "backend", "listen", "defaults"))

#: Section kinds refused as a whole: name → (why, manual section).
REFUSED_SECTIONS: dict[str, tuple[str, str]] = {
    "program": ("starts a command on the host", "2.8 manual §3.7 Programs (2.2 to 3.0)"),
    "acme": ("generates key files and writes certificates", "§12.8 (ACME; 3.2+)"),
}

_GLOBAL: dict[str, tuple[str, str]] = {
    "master-worker": ("changes how lbctl runs HAProxy (lbctl passes -W itself)", "§3.1"),
    "daemon": ("changes how lbctl runs HAProxy (lbctl daemonises it itself)", "§3.1"),
    "nbproc": ("multi-process mode (removed in 2.5) breaks lbctl's runtime API", "§3.2"),
    "lua-load": ("runs Lua code, already while haproxy -c reads the file", "§3.1"),
    "lua-load-per-thread": ("runs Lua code, already while haproxy -c reads the file", "§3.1"),
    "lua-prepend-path": ("changes where Lua's require() loads code from", "§3.1"),
    "external-check": ("lets health checks run commands", "§3.1"),
    "insecure-fork-wanted": ("lets HAProxy start processes (Lua, external checks)", "§3.1"),
    "insecure-setuid-wanted": ("lets HAProxy run setuid programs", "§3.1"),
    "setenv": ("changes HAProxy's environment", "§3.1"),
    "presetenv": ("changes HAProxy's environment", "§3.1"),
    "resetenv": ("changes HAProxy's environment", "§3.1"),
    "unsetenv": ("changes HAProxy's environment", "§3.1"),
    "chroot": ("sets HAProxy's identity, which lbctl manages", "§3.1"),
    "user": ("sets HAProxy's identity, which lbctl manages (lbctl serve --haproxy-user)", "§3.1"),
    "group": ("sets HAProxy's identity, which lbctl manages (lbctl serve --haproxy-user)", "§3.1"),
    "uid": ("sets HAProxy's identity, which lbctl manages (lbctl serve --haproxy-user)", "§3.1"),
    "gid": ("sets HAProxy's identity, which lbctl manages (lbctl serve --haproxy-user)", "§3.1"),
    "setcap": ("keeps capabilities after the privilege drop", "§3.1 (2.9+)"),
    "set-dumpable": ("lets the process write core dumps", "§3.1"),
    "pidfile": ("writes a file (lbctl keeps the pidfile in its run dir)", "§3.1"),
    "unix-bind": ("changes where and as whom every UNIX socket is created", "§3.1"),
    "default-path": ("changes what relative paths mean", "§3.1 (2.4+)"),
    "ssl-engine": ("loads an OpenSSL engine (a shared library)", "§3.2"),
    "ssl-provider": ("loads an OpenSSL provider (a shared library)", "§3.1 (2.6+)"),
    "ssl-provider-path": ("changes where OpenSSL providers are loaded from", "§3.1 (2.6+)"),
    "ssl-passphrase-cmd": ("runs a command to read key passphrases", "§3.1 (3.3+)"),
    "shm-stats-file": ("creates a shared-memory file", "§3.1 (3.3+, experimental)"),
    "stats socket": ("opens the runtime API (lbctl's own socket is the only one)", "§3.1"),
}
_PROXY: dict[str, tuple[str, str]] = {
    "external-check": ("runs a command per health check", "§4.2 (external-check command/path)"),
    "option external-check": ("runs a command per health check", "§4.2 (option external-check)"),
}

#: The name ``--allow-directive`` takes for a refused keyword, where it is not the keyword.
ALLOW_NAMES = {"stats socket": "stats-socket", "option external-check": "external-check"}

#: Refused directives per section kind: keyword (``stats socket``: two words) →
#: (why, manual section). ``lua-load`` of lbctl's own pacing script and ``stats socket`` at
#: lbctl's own path are lbctl's lines, not refused (:mod:`lbctl.spec.policy`).
REFUSED: dict[str, dict[str, tuple[str, str]]] = {
    "global": _GLOBAL,
    **{kind: _PROXY for kind in PROXY_KINDS},
    "ring": {"backing-file": ("creates and renames files, already during haproxy -c",
                              "§12.5 (rings, backing-file; 2.9+)")},
}

#: Keywords whose argument at a fixed index (after the keyword) is a file or directory path,
#: per section kind: keyword → (index, manual section).
_GLOBAL_PATHS: dict[str, tuple[int, str]] = {
    "ca-base": (0, "§3.1"), "crt-base": (0, "§3.1"), "key-base": (0, "§3.1 (2.7+)"),
    "issuers-chain-path": (0, "§3.1"), "ssl-dh-param-file": (0, "§3.1"),
    "server-state-base": (0, "§3.1"), "server-state-file": (0, "§3.1"),
    "stats-file": (0, "§3.1 (3.1+)"), "h1-case-adjust-file": (0, "§3.1"),
    "51degrees-data-file": (0, "§3.1"), "deviceatlas-json-file": (0, "§3.1"),
    "wurfl-data-file": (0, "§3.1"), "wurfl-patch-file": (0, "§3.1"),
    "httpclient.ssl.ca-file": (0, "§3.4"),
    "lua-load": (0, "§3.1"), "lua-load-per-thread": (0, "§3.1"),
}
_PROXY_PATHS: dict[str, tuple[int, str]] = {
    "errorfile": (1, "§4.2 (errorfile)"),
    "server-state-file-name": (0, "§4.2 (server-state-file-name)"),
}
PATH_ARGS: dict[str, dict[str, tuple[int, str]]] = {
    "global": _GLOBAL_PATHS,
    **{kind: _PROXY_PATHS for kind in PROXY_KINDS},
    "http-errors": {"errorfile": (1, "§12.4 (http-errors)")},
    "crt-store": {"crt-base": (0, "§12.7"), "key-base": (0, "§12.7")},
}

#: Options whose next word is a path, by the keyword of the line carrying them
#: (``bind ... crt <file>``, ``server ... ca-file <file>``, ``filter spoe ... config <file>``,
#: ``load crt <file> key <file>``): keyword → {option: manual section}.
_BIND_OPTIONS = {"ca-file": "§5.1", "ca-sign-file": "§5.1", "ca-verify-file": "§5.1 (2.4+)",
                 "crl-file": "§5.1", "crt": "§5.1", "crt-list": "§5.1",
                 "default-crt": "§5.1 (3.2+)", "ech": "§5.1 (3.3+)",
                 "tls-ticket-keys": "§5.1"}
_SERVER_OPTIONS = {"ca-file": "§5.2", "crl-file": "§5.2", "crt": "§5.2"}
PATH_OPTIONS: dict[str, dict[str, str]] = {
    "bind": _BIND_OPTIONS, "default-bind": _BIND_OPTIONS,
    "server": _SERVER_OPTIONS, "default-server": _SERVER_OPTIONS,
    "server-template": _SERVER_OPTIONS, "peer": _SERVER_OPTIONS,
    "filter": {"config": "§9.3 (SPOE), §9.6 (OpenTracing)"},
    "load": {"crt": "§12.7.1", "key": "§12.7.1", "ocsp": "§12.7.1", "issuer": "§12.7.1",
             "sctl": "§12.7.1"},
    "external-check": {"command": "§4.2 (external-check command)"},
}

#: Rule keywords whose actions may read a file: ``return``, ``deny`` and ``tarpit`` take
#: ``errorfile <file>``, ``file <file>`` and ``lf-file <file>`` (§4.4, "http-request return";
#: ``http-error`` §4.2). Every such word in these lines is followed by a path.
RULE_KEYWORDS = frozenset(("http-request", "http-response", "http-after-response",
                           "http-error", "tcp-request", "tcp-response"))
RULE_FILE_WORDS = {"file": "§4.4 (http-request return)", "lf-file": "§4.4 (http-request return)",
                   "errorfile": "§4.4 (http-request return), §4.2 (http-error)"}

#: Sample converters and actions whose parenthesised first argument is a map or ACL file
#: (§7.3.1 ``map_*``; §4.4 ``add-acl``, ``del-acl``, ``set-map``, ``del-map``); ``-f <file>``
#: in any ACL or condition is one too (§7.1).
MAP_FUNCTIONS = ("map", "add-acl", "del-acl", "set-map", "del-map", "clear-map")
#: Map/ACL name prefixes (§2.7): ``virt@`` names no file; ``file@`` and ``opt@`` do.
FILE_PREFIXES = ("file@", "opt@")

#: Keywords whose argument at index 0 (after the name for ``server``/``peer``) is an address,
#: by section kind: keyword → (index of the first address, manual section). ``bind`` takes a
#: comma-separated list.
ADDRESS_ARGS: dict[str, tuple[int, str]] = {
    "bind": (0, "§4.2 (bind), §2.9"), "dgram-bind": (0, "§12.6"),
    "server": (1, "§4.2 (server), §2.9"), "peer": (1, "§11.2"),
    "log": (0, "§4.2 (log), §3.1 (log), §2.9"),
}
#: ``stats socket <address>``: the address after these words.
ADDRESS_KEYWORDS_AFTER = {"stats": ("socket", "§3.1 (stats socket)")}
#: Address prefixes whose rest is a UNIX socket path (§2.9.1, §2.9.2); a bare address that
#: starts with ``/`` is one too.
SOCKET_PREFIXES = ("unix@", "uxst@", "uxdg@")
#: Which ``*-base`` directive a relative path after an option is resolved against (§3.1).
BASE_OF = {"crt": "crt-base", "crt-list": "crt-base", "default-crt": "crt-base",
           "key": "key-base", "ca-file": "ca-base", "crl-file": "ca-base",
           "ca-verify-file": "ca-base", "ca-sign-file": "ca-base",
           "server-state-file": "server-state-base",
           "server-state-file-name": "server-state-base"}
#: Dot-directives HAProxy has (§2.4 conditional blocks, §2.4 messages); any other
#: dot-directive (an ``.include``-style construct of a future release) is refused.
ALLOWED_DOTS = frozenset((".if", ".elif", ".else", ".endif", ".notice", ".warning", ".alert",
                          ".diag"))
