"""The fleet's keys in etcd, through etcd3gw (etcd's v3 JSON gateway); the one place etcd is met.

Every key of fleet ``<fleet>`` lives under ``/lbctl/<fleet>/``:

* ``spec`` — the committed desired state ``{"version", "spec", "by", "who", "author",
  "message", "at"}``; written only by :meth:`FleetStore.commit`, a transaction that compares
  the key's ``mod_revision`` with the one the writer read (``create_revision == 0`` for the
  first) — ``If-Match`` at fleet scale;
* ``proposals/<id>`` — a version waiting for verdicts ``{"id", "version", "spec", "by",
  "deadline"}`` (epoch seconds), and ``verdicts/<id>/<node>`` each node's ``{"ok",
  "reason", "diagnostics", "haproxy"}``;
* ``nodes/<name>`` — a live node's report, attached to its lease (gone when the lease
  expires); ``members/<name>`` the same report without a lease (a node once seen).

Values are JSON text. Every failure to reach etcd (connection refused, timeout, an answer
that is not etcd's) is raised as :class:`lbctl.errors.FleetUnavailable` naming the endpoint;
callers never see etcd3gw's or requests' exceptions. Sources: etcd API v3 (KV Range / Put /
DeleteRange / Txn, Lease Grant / KeepAlive / Revoke), https://etcd.io/docs/v3.4/learning/api/.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from lbctl.errors import FleetUnavailable

if TYPE_CHECKING:  # etcd3gw is the optional extra lbctl[fleet]: imported on first use
    from etcd3gw.client import Etcd3Client

__all__ = ["INSTALL_HINT", "Committed", "FleetStore", "etcd_client_installed"]

T = TypeVar("T")

#: What to do when etcd3gw is missing.
INSTALL_HINT = "the fleet needs etcd3gw: pip install 'lbctl[fleet]'"


def etcd_client_installed() -> bool:
    """True when etcd3gw (the extra ``lbctl[fleet]``) can be imported."""
    import importlib.util

    return importlib.util.find_spec("etcd3gw") is not None


def _encode(text: str) -> str:
    """A key or value as the JSON gateway wants it (base64 of its UTF-8 bytes)."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _lease(lease: int, client: Etcd3Client) -> Any:
    from etcd3gw.lease import Lease

    return Lease(lease, client)


@dataclass(frozen=True)
class Committed:
    """The committed desired state: ``version`` (the fleet version), ``record`` (the whole
    ``spec`` key: ``spec`` data, who made it) and ``mod_revision`` (etcd's revision of the key,
    what the next commit compares)."""

    version: int
    record: dict[str, Any]
    mod_revision: int

    @property
    def spec(self) -> dict[str, Any]:
        """The spec document of this version."""
        data: dict[str, Any] = self.record.get("spec") or {}
        return data


class FleetStore:
    """Fleet ``fleet``'s keys on the etcd at ``url`` (``http://host:port``).

    ``timeout``: seconds per etcd round trip. Thread-safe: each thread has its own HTTP
    session. Every method raises :class:`FleetUnavailable` when etcd cannot be reached.
    """

    def __init__(self, url: str, fleet: str = "default", *, timeout: float = 2.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--fleet must be an etcd URL such as http://127.0.0.1:2379, "
                             f"got {url!r}")
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self.fleet = fleet
        self.prefix = f"/lbctl/{fleet}/"
        self._host, self._port, self._scheme = parts.hostname, parts.port or 2379, parts.scheme
        self._timeout = timeout
        self._local = threading.local()

    # -- plumbing ---------------------------------------------------------------------------
    def _client(self) -> Etcd3Client:
        client: Etcd3Client | None = getattr(self._local, "client", None)
        if client is None:
            try:
                from etcd3gw.client import Etcd3Client
            except ImportError:
                raise FleetUnavailable(INSTALL_HINT, self.endpoint) from None
            client = Etcd3Client(self._host, self._port, self._scheme, timeout=self._timeout,
                                 api_path="/v3/")
            self._local.client = client
        return client

    def _call(self, what: str, fn: Callable[[Etcd3Client], T]) -> T:
        client = self._client()
        import requests
        from etcd3gw.exceptions import Etcd3Exception

        try:
            return fn(client)
        except (Etcd3Exception, requests.RequestException, ValueError, KeyError) as exc:
            self._local.client = None  # a fresh session next time
            detail = getattr(exc, "detail_text", None) or str(exc) or type(exc).__name__
            raise FleetUnavailable(f"etcd at {self.endpoint} is unreachable ({what}): "
                                   f"{detail.strip()[:200]}", self.endpoint) from exc

    def key(self, *parts: str) -> str:
        """The full key ``/lbctl/<fleet>/<parts joined by />``."""
        return self.prefix + "/".join(parts)

    def _get_json(self, key: str) -> tuple[dict[str, Any], int] | None:
        items = self._call(f"get {key}", lambda c: c.get(key, metadata=True))
        if not items:
            return None
        value, meta = items[0]
        return json.loads(value), int(meta.get("mod_revision", 0))

    def _prefix_json(self, prefix: str) -> dict[str, dict[str, Any]]:
        items = self._call(f"get {prefix}*", lambda c: c.get_prefix(prefix))
        out: dict[str, dict[str, Any]] = {}
        for value, meta in items:
            name = meta["key"].decode() if isinstance(meta["key"], bytes) else str(meta["key"])
            out[name[len(prefix):]] = json.loads(value)
        return out

    def _put(self, key: str, value: dict[str, Any], lease: int | None = None) -> None:
        def put(c: Etcd3Client) -> bool:
            return c.put(key, json.dumps(value), lease=_lease(lease, c) if lease else None)
        self._call(f"put {key}", put)

    # -- the desired state ------------------------------------------------------------------
    def committed(self) -> Committed | None:
        """The committed desired state, ``None`` before the fleet's first write."""
        got = self._get_json(self.key("spec"))
        if got is None:
            return None
        record, revision = got
        return Committed(int(record["version"]), record, revision)

    def commit(self, base: Committed | None, record: dict[str, Any]) -> bool:
        """Write ``record`` as the ``spec`` key if it is still ``base`` (its ``mod_revision``;
        ``None``: the key must not exist). False when another write came first."""
        key = _encode(self.key("spec"))
        compare = ({"key": key, "result": "EQUAL", "target": "CREATE", "create_revision": 0}
                   if base is None else
                   {"key": key, "result": "EQUAL", "target": "MOD",
                    "mod_revision": base.mod_revision})
        txn = {"compare": [compare],
               "success": [{"request_put": {"key": key, "value": _encode(json.dumps(record))}}],
               "failure": []}
        result = self._call("commit", lambda c: c.transaction(txn))
        return bool(result.get("succeeded", False))

    # -- proposals and verdicts -------------------------------------------------------------
    def propose(self, proposal: dict[str, Any]) -> None:
        """Publish ``proposal`` (its ``id`` names the key) for every node to check."""
        self._put(self.key("proposals", str(proposal["id"])), proposal)

    def proposals(self) -> dict[str, dict[str, Any]]:
        """Open proposals by id."""
        return self._prefix_json(self.key("proposals") + "/")

    def put_verdict(self, proposal_id: str, node: str, verdict: dict[str, Any]) -> None:
        """Node ``node``'s verdict on proposal ``proposal_id``."""
        self._put(self.key("verdicts", proposal_id, node), verdict)

    def verdicts(self, proposal_id: str) -> dict[str, dict[str, Any]]:
        """The verdicts given so far on ``proposal_id``, by node."""
        return self._prefix_json(self.key("verdicts", proposal_id) + "/")

    def forget(self, proposal_id: str) -> None:
        """Delete proposal ``proposal_id`` and its verdicts."""
        self._call("delete proposal", lambda c: c.delete(self.key("proposals", proposal_id)))
        prefix = self.key("verdicts", proposal_id) + "/"
        self._call("delete verdicts", lambda c: c.delete_prefix(prefix))

    # -- nodes and leases -------------------------------------------------------------------
    def grant(self, ttl: int) -> int:
        """A new lease of ``ttl`` seconds; its id."""
        return self._call("lease grant", lambda c: c.lease(ttl).id)

    def keep_alive(self, lease: int) -> bool:
        """Refresh ``lease``; False when it has expired (its keys are gone)."""
        ttl: int = self._call("lease keep-alive", lambda c: int(_lease(lease, c).refresh()))
        return ttl > 0

    def revoke(self, lease: int) -> None:
        """Revoke ``lease`` now (its ``nodes/<name>`` key goes at once)."""
        self._call("lease revoke", lambda c: _lease(lease, c).revoke())

    def put_node(self, name: str, report: dict[str, Any], lease: int) -> None:
        """Node ``name``'s report: live under ``lease``, and kept (no lease) as a member."""
        self._put(self.key("nodes", name), report, lease)
        self._put(self.key("members", name), report)

    def nodes(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """``(live, members)``: the live nodes' reports (lease held) and every node's last
        report, by name."""
        return self._prefix_json(self.key("nodes") + "/"), self._prefix_json(self.key("members") + "/")
