"""The ``host:port`` value object: one parser and one writer for every address lbctl reads.

Binds (``bind``, configuration.txt §4.2), servers' ``<address>:<port>`` (§5.2), the peers
section's ``peer`` lines (§3.5) and the agent's own ``--listen`` all use it. Forms read:
``127.0.0.1:80``, ``host.example:80``, ``[::1]:80`` and HAProxy's unbracketed ``::1:80``;
an empty host (``:80``) is kept empty, for binds to mean every address.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Address"]


@dataclass(frozen=True)
class Address:
    """``host`` (an IP literal without brackets, a host name, ``*`` or ``""``) and ``port``
    (an int; its range is the caller's to check, so errors can name the field)."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Address:
        """``"10.0.0.1:80"`` / ``"[::1]:80"`` / ``"::1:80"`` → :class:`Address`. Raises
        ``ValueError`` with a message that says the expected form."""
        if text.startswith("["):
            host, sep, port = text[1:].partition("]:")
            if not sep:
                raise ValueError("must be '[IPv6]:port'")
        else:
            host, sep, port = text.rpartition(":")
            if not sep:
                raise ValueError("must be 'address:port', e.g. 127.0.0.1:8080")
        if not port.isdigit():
            raise ValueError(f"port {port!r} is not a number")
        return cls(host, int(port))

    @property
    def is_ipv6(self) -> bool:
        """True for an IPv6 literal (it holds a ``:``)."""
        return ":" in self.host

    def __str__(self) -> str:
        """The form people write: IPv6 bracketed (``[::1]:80``)."""
        return f"[{self.host}]:{self.port}" if self.is_ipv6 else f"{self.host}:{self.port}"

    def haproxy(self) -> str:
        """The form of a ``bind`` argument: IPv6 unbracketed, as HAProxy reads it (``::1:80``)."""
        return f"{self.host}:{self.port}"
