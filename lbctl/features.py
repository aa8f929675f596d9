"""HAProxy versions and the one table of version-gated forms.

Every place where lbctl renders or runs something differently by HAProxy version reads a flag
of :class:`Capabilities`; nothing else compares version numbers. Sources are the HAProxy
configuration manual (``doc/configuration.txt``) and management guide (``doc/management.txt``)
of the version that introduced each form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, order=True)
class HAProxyVersion:
    """A HAProxy release number ``major.minor.patch`` (the ``-dev``/build suffix is dropped)."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> HAProxyVersion:
        """Parse ``"2.8.25-5cf5d0683"``, ``"2.6"`` or ``"1.5.0"``; raise ``ValueError`` otherwise."""
        m = _VERSION_RE.match(text)
        if not m:
            raise ValueError(f"not a HAProxy version: {text!r}")
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        """True when this version is ``major.minor.patch`` or newer."""
        return (self.major, self.minor, self.patch) >= (major, minor, patch)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


OLDEST_SUPPORTED = HAProxyVersion(1, 5, 0)


@dataclass(frozen=True)
class Capabilities:
    """What a target HAProxy can do, as booleans the templates and the process code test.

    Build with :meth:`for_target`; ``lua`` and ``promex`` come from the binary's ``-vv``
    feature list (or are assumed present for a version given by hand, since both supported
    builds have them).
    """

    version: HAProxyVersion
    lua: bool
    #: ``mode: smooth`` by the Lua pacing action (``haproxy/lua/lbctl_pace.lua``): 2.0+ built
    #: with Lua. Older targets use the chained throttle even with Lua: on 1.8.0 the pacing
    #: measured up to 31 of 100 requests released late (by up to 550 ms) and 16 arrivals in one
    #: second, where the throttle measured 10 (tests/test_versions.py, README "HAProxy
    #: versions"); 1.6, 1.7 and 1.9 are not in the matrix.
    lua_pacing: bool
    #: ``lbctl waiting``, the Lua pacing action's runtime API command (``core.register_cli``),
    #: is there and answers: every version with :attr:`lua_pacing` (2.0+) but 3.0.
    #: 3.0 gave the CLI applet buffers of its own and Lua CLI commands still wrote into the
    #: channel's, so the command never answers (measured on 3.0.0: nothing within 2 s; 2.8,
    #: 3.2.0 and 3.3.0 answer at once). HAProxy fixed it in 3.1-dev3 (commit e5e36ce09, "hlua/cli:
    #: Fix lua CLI commands to work with applet's buffers") and marked it for 3.0's branch; which
    #: 3.0.x took it is not known here, so all of 3.0 is left without the figure.
    lua_cli: bool
    #: ``http-request track-sc0``, ``sc-inc-gpc0``, ``set-var``, ``str()`` keys,
    #: ``errorfile 429`` and ``core.msleep`` in Lua — configuration.txt 1.6 §4.2, §7.3. Before
    #: 1.6 clients are tracked by ``tcp-request content track-sc0 ... if HTTP`` (1.5 §4.2) with
    #: a constant key from the ``map`` converter's default value (1.5 §7.3.1).
    http_rules_16: bool
    #: ``http-request deny deny_status <code>`` — configuration.txt 1.7 §4.2; before it a 429 is
    #: the raw ``errorfile 503`` of a serverless backend (``errorfile`` knows no 429 in 1.5 §4.2).
    deny_status: bool
    #: ``gpc1`` in a stick table and ``sc-inc-gpc1`` — configuration.txt 1.9 §4.2, §7.3.
    gpc1: bool
    #: ``tune.lua.bool-sample-conversion`` — configuration.txt 3.2 §3.2 (3.2 warns at start when
    #: Lua is loaded without it; the 3.1.0 manual has no such keyword).
    lua_bool_sample_conversion: bool
    #: runtime API ``show servers state`` (admin state bits, user weight) — management.txt 1.6
    #: §9.3. 1.5 has ``set server <b>/<s> state|weight`` already (configuration.txt 1.5 §9.2,
    #: checked on 1.5.0) but not this read-back: there ``show stat``'s status and weight.
    show_servers_state: bool

    #: ``http-request return status ... hdr`` — configuration.txt 2.2 §4.2 "http-request return".
    http_return: bool
    #: ``localpeer`` in ``global`` — configuration.txt 2.2 §3.1.
    localpeer: bool
    #: ``option idle-close-on-response`` — configuration.txt 2.6 §4.2 (backported to 2.6).
    idle_close_on_response: bool
    #: ``http-check send meth ... uri ...`` and ``http-check expect status`` — 2.2 §4.2;
    #: older versions use ``option httpchk METH URI``.
    http_check_send: bool
    #: master-worker mode ``-W`` and ``expose-fd listeners`` — management.txt 1.8 §3.
    master_worker: bool
    #: master CLI ``-S <socket>`` — management.txt 1.9 §9.4.
    master_cli: bool
    #: ``show proc`` on the master CLI reports ``[failed: N]`` reloads — management.txt 2.5 §9.4.
    failed_reloads: bool
    #: the master CLI ``reload`` answers ``Success=1|0`` — management.txt 2.7 §9.4.
    reload_status: bool
    #: ``hard-stop-after`` in ``global`` — configuration.txt 1.7 §3.1.
    hard_stop_after: bool
    #: ``http-request use-service prometheus-exporter`` — HAProxy's own exporter
    #: (``addons/promex``, 2.0+, built with ``USE_PROMEX=1``: ``+PROMEX`` in ``-vv``);
    #: configuration.txt 2.0 §4.2 "http-request use-service", addons/promex/README.
    promex: bool
    #: ``ssl-min-ver`` on a bind — configuration.txt 1.8 §5.1.
    ssl_min_ver: bool
    #: ``ciphersuites`` (TLS 1.3) on a bind — configuration.txt 1.9 §5.1.
    ciphersuites: bool
    #: ``alpn`` on a server line — configuration.txt 1.9 §5.2.
    server_alpn: bool
    #: ``sni`` and ``check-sni`` on a server line — configuration.txt 1.8 §5.2.
    server_sni: bool
    #: ``set ssl cert`` / ``commit ssl cert`` on the runtime API — management.txt 2.1 §9.3;
    #: older targets reload to pick up a replaced certificate.
    hot_ssl_cert: bool
    #: ``from <defaults>`` on a proxy header, naming the defaults section it takes —
    #: configuration.txt 2.4 §4 (before 2.4 a named defaults section is only a label: each
    #: defaults section, named or not, applies to the proxies after it, as several anonymous
    #: ones do on every version, 1.5 included).
    defaults_from: bool
    #: A frontend and a backend may have the same name (``frontend web`` + ``backend web``):
    #: every version before 3.3; 3.3 refuses it ("no longer supported as of 3.3",
    #: configuration.txt 3.3 §4).
    frontend_backend_same_name: bool

    @classmethod
    def for_target(
        cls, version: HAProxyVersion, *, lua: bool = True, promex: bool = True
    ) -> Capabilities:
        """Capabilities of ``version``; ``lua`` says whether the build has Lua (``+LUA``),
        ``promex`` whether it has the Prometheus exporter (``+PROMEX``)."""
        v = version.at_least
        return cls(
            version=version,
            lua=lua and v(1, 6),
            lua_pacing=lua and v(2, 0),
            lua_cli=lua and v(2, 0) and (version.major, version.minor) != (3, 0),
            http_rules_16=v(1, 6),
            deny_status=v(1, 7),
            gpc1=v(1, 9),
            lua_bool_sample_conversion=v(3, 2),
            show_servers_state=v(1, 6),
            http_return=v(2, 2),
            localpeer=v(2, 2),
            idle_close_on_response=v(2, 6),
            http_check_send=v(2, 2),
            master_worker=v(1, 8),
            master_cli=v(1, 9),
            failed_reloads=v(2, 5),
            reload_status=v(2, 7),
            hard_stop_after=v(1, 7),
            promex=promex and v(2, 0),
            ssl_min_ver=v(1, 8),
            ciphersuites=v(1, 9),
            server_alpn=v(1, 9),
            server_sni=v(1, 8),
            hot_ssl_cert=v(2, 1),
            defaults_from=v(2, 4),
            frontend_backend_same_name=not v(3, 3),
        )


@dataclass(frozen=True)
class Gate:
    """A spec field only some targets can render: ``flag`` is the :class:`Capabilities`
    attribute that must be true, ``needs`` says which targets have it, ``instead`` what works
    on one without it; ``source`` is the manual section."""

    flag: str
    needs: str
    instead: str
    source: str

    def allowed(self, caps: Capabilities) -> bool:
        """True when ``caps`` can render this field."""
        return bool(getattr(caps, self.flag))


#: Every version-gated spec field, by field name (the location is added where it is checked,
#: :func:`lbctl.render.view.build_view`). A spec that sets one for a target that lacks it is
#: refused with a 422 (:class:`lbctl.errors.UnsupportedOnTarget`) naming the field, the target
#: and what would work instead. ``mode: smooth`` is not gated: without Lua it is rendered as the
#: chained throttle (``templates/throttle.j2``), and ``mode: reject`` works on every version.
GATES: dict[str, Gate] = {
    "prometheus_exporter": Gate(
        "promex",
        "HAProxy 2.0 or newer built with the Prometheus exporter (USE_PROMEX=1, +PROMEX in -vv)",
        "remove global.prometheus_exporter and scrape lbctl's own /metrics, or use a build "
        "with the exporter",
        "configuration.txt 2.0 §4.2 'http-request use-service', addons/promex/README",
    ),
    "min_version": Gate("ssl_min_ver", "HAProxy 1.8 or newer (ssl-min-ver)",
                        "leave min_version unset", "configuration.txt 1.8 §5.1 'ssl-min-ver'"),
    "ciphersuites": Gate("ciphersuites", "HAProxy 1.9 or newer with OpenSSL 1.1.1 (ciphersuites)",
                         "leave ciphersuites empty", "configuration.txt 1.9 §5.1 'ciphersuites'"),
    "server_alpn": Gate("server_alpn", "HAProxy 1.9 or newer (server alpn)",
                        "leave tls.alpn empty", "configuration.txt 1.9 §5.2 'alpn'"),
    "sni": Gate("server_sni", "HAProxy 1.8 or newer (server sni and check-sni)",
                "leave tls.sni unset", "configuration.txt 1.8 §5.2 'sni', 'check-sni'"),
    # Several defaults sections need no gate: 1.5 and later accept any number, named or not,
    # each applying to the proxies after it (configuration.txt 1.5 §4). Only ``from`` does
    # (HAProxy 2.0 and 1.5 refuse 'frontend www from base'), whatever form the defaults take.
    "from": Gate("defaults_from", "HAProxy 2.4 or newer (named defaults: '<proxy> <name> from "
                 "<defaults>')",
                 "leave 'from' unset and place the proxy after the defaults section it needs "
                 "(the order field): each defaults section applies to the proxies after it",
                 "configuration.txt 2.4 §4 'Proxies'"),
    "same_name": Gate("frontend_backend_same_name",
                      "HAProxy 3.2 or older (3.3 refuses a backend named as a frontend)",
                      "rename the frontend or the backend",
                      "configuration.txt 3.3 §4 'Proxies'"),
}
