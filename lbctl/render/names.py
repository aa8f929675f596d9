"""Every name lbctl owns inside a rendered ``haproxy.cfg``, and the files it points at.

The local peer and the ``peers`` section that carries stick tables across reloads, the
Prometheus exporter's frontend, the per-frontend stick table of client counters, and the
run-dir / asset paths (stats socket, Lua pacing action, 429 error file). Anything that reads a
config back (:mod:`lbctl.importer`) or talks to HAProxy about these objects
(:mod:`lbctl.control.clients`) takes the names from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lbctl import paths
from lbctl.features import Capabilities

__all__ = ["LOCAL_PEER", "PEERS_SECTION", "PROMETHEUS_FRONTEND", "RenderContext", "client_acl",
           "peer_args", "refuse_backend", "route_acl", "stick_table_name", "throttle_backend",
           "throttle_frontend"]


#: Name of the local peer (``peer <name>`` / ``localpeer`` / ``haproxy -L``); the process and
#: the validator pass ``-L LOCAL_PEER`` so the peers section finds itself (configuration.txt §3.5).
LOCAL_PEER = "lbctl"
#: Name of the ``peers`` section that carries stick tables across reloads.
PEERS_SECTION = "lbctl"
#: Name of the frontend that serves HAProxy's own Prometheus exporter
#: (``global.prometheus_exporter``).
PROMETHEUS_FRONTEND = "lbctl_prometheus"


def peer_args(caps: Capabilities, name: str = LOCAL_PEER) -> list[str]:
    """Command-line arguments naming the local peer ``name``: ``["-L", name]`` before 2.2,
    where the config cannot say it (``localpeer``); empty otherwise (giving both makes 2.2+
    warn)."""
    return [] if caps.localpeer else ["-L", name]


@dataclass(frozen=True)
class RenderContext:
    """Filesystem places the rendered config refers to.

    ``run_dir`` holds the stats socket (``haproxy.sock``); ``assets_dir`` holds the Lua pacing
    action and the 429 error file (the installed ``haproxy/`` assets by default). ``user`` /
    ``group``: who HAProxy drops privileges to (``global`` ``user``/``group``, configuration.txt
    §3.1), set when the agent runs as root (:func:`lbctl.haproxy.privileges.drop_to`).
    ``socket_dir``: where the UNIX sockets the workers connect to live when they cannot enter
    ``run_dir`` (they dropped privileges; :func:`lbctl.haproxy.privileges.socket_dir`);
    ``None``: the run dir. ``peer_address``: ``host:port`` of this node's local peer, a
    per-node setting of a fleet member (``lbctl serve --peer-address``) that replaces
    ``127.0.0.1:<global.peers_port>``; ``local_peer`` its name (a fleet node's name);
    ``peers``: the other fleet nodes' ``(name, host:port)``, listed in the ``peers`` section
    so stick tables are shared (configuration.txt §3.5 "peers"). ``share``:
    the number of live fleet nodes a ``mode: smooth`` client's ``rate`` and ``burst`` are split
    over (each node paces at ``rate / share`` and queues ``burst / share``, so the fleet
    paces at ``rate``); 1 for a single node.
    """

    run_dir: Path
    assets_dir: Path = field(default_factory=paths.assets_dir)
    user: str | None = None
    group: str | None = None
    socket_dir: Path | None = None
    peer_address: str | None = None
    local_peer: str = LOCAL_PEER
    peers: tuple[tuple[str, str], ...] = ()
    share: int = 1

    @property
    def stats_socket(self) -> Path:
        """The runtime API socket (``stats socket``, ``level admin``)."""
        return self.run_dir / "haproxy.sock"

    @property
    def log_socket(self) -> Path:
        """``<socket_dir or run_dir>/log.sock`` as an absolute path: the UNIX datagram socket
        the agent reads HAProxy's logs from (``log <path> local0`` in ``global``; a log
        address is a socket file only when it starts with ``/``, configuration.txt 1.5 §3.1
        "log"). In the socket dir when the workers drop privileges: they send the logs."""
        return (self.socket_dir or self.run_dir).absolute() / "log.sock"

    @property
    def lua_script(self) -> Path:
        """The Lua file that registers ``lua.lbctl_pace``."""
        return self.assets_dir / "lua" / "lbctl_pace.lua"

    def throttle_path(self, name: str) -> Path:
        """``<socket_dir or run_dir>/<name>.sock``: the UNIX socket of a chained throttle.
        A file, not an abstract socket (``abns@``): HAProxy binds a socket file under a
        temporary name and renames it (configuration.txt 1.5 §5.1), so every reload style
        rebinds it, whereas 1.5's ``-sf`` cannot rebind an abstract socket and 1.8.0's
        ``-x`` does not pass one on (measured: "cannot listen to socket []", no new worker)."""
        return (self.socket_dir or self.run_dir) / f"{name}.sock"

    @property
    def empty_map(self) -> Path:
        """An empty map file: ``<fetch>,map(<it>,<name>)`` is the constant ``<name>``, the
        stick-table key of a client before ``str()`` (1.6; configuration.txt 1.5 §7.3.1)."""
        return self.assets_dir / "maps" / "empty.map"

    @property
    def errorfile_429(self) -> Path:
        """Raw HTTP 429 response with ``Retry-After: 1`` for targets without ``http-request return``."""
        return self.assets_dir / "errors" / "429.http"


def stick_table_name(frontend: str) -> str:
    """The stick table (a table-only backend) holding a frontend's per-client counters."""
    return f"lbctl_clients_{frontend}"


def client_acl(client: str) -> str:
    """The ACL that matches client ``client``'s URL prefix (``lbctl_client_<name>``)."""
    return f"lbctl_client_{client}"


def route_acl(index: int) -> str:
    """The ACL of the route at ``index`` of a frontend's ``routes`` (``lbctl_route_<i>``)."""
    return f"lbctl_route_{index}"


def throttle_backend(frontend: str, client: str) -> str:
    """The backend queueing a smooth client's requests for its chained throttle (no Lua)."""
    return f"lbctl_pace_{frontend}_{client}"


def throttle_frontend(frontend: str, client: str) -> str:
    """The internal frontend of a smooth client's chained throttle (binds its UNIX socket)."""
    return f"lbctl_paced_{frontend}_{client}"


def refuse_backend(frontend: str) -> str:
    """The serverless backend answering a frontend's 429s where ``deny_status`` does not exist
    (before 1.7): its ``errorfile 503`` is the raw 429 response."""
    return f"lbctl_429_{frontend}"
