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
    #: ``http-request track-sc0``, ``sc-inc-gpc0``, ``set-var``, ``str()`` keys, ``deny_status``,
    #: ``errorfile 429`` and ``core.msleep`` in Lua — configuration.txt 1.6 §4.2, §7.3.
    http_rules_16: bool
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
            http_rules_16=v(1, 6),
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
        )
