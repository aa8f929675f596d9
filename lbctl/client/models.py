"""The documents of the agent's API, as pydantic models: what each operation answers.

One set of models serves both sides: the agent declares them as its OpenAPI response models
(:mod:`lbctl.api`), and :class:`lbctl.client.Client` parses every answer into them (the
``data`` of a :class:`lbctl.client.Result`). The spec itself is :class:`lbctl.spec.Spec`:
one shape in the schema, in requests and in answers (a ``bind`` is the string
``"127.0.0.1:80"`` everywhere). Times: ``*_s`` seconds, ``*_ms`` milliseconds, ``at`` /
``*_at`` epoch seconds. Every model forbids unknown members, so the OpenAPI document has no
open objects and a drift between the agent and this module fails loudly.

Size: over 300 lines because it is the one place every response model of the API is
declared (the OpenAPI document, the server and the clients all read them); split by
operation, the shared pieces would be imported back and forth.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lbctl.spec import Spec

__all__ = [
    "ApplyOutcome",
    "BackendHealth",
    "BinaryInfo",
    "CertificateHealth",
    "Changes",
    "ClearedCounters",
    "ClearedEntry",
    "ClientCounters",
    "ClientsReport",
    "ConfigDocument",
    "Diagnostic",
    "FleetApplyResult",
    "FleetEtcd",
    "FleetNode",
    "FleetStatus",
    "FleetSummary",
    "HAProxyLiveness",
    "HAProxyStatus",
    "HealthReport",
    "HistoryEntry",
    "HistoryEntryWithBodies",
    "HistoryPage",
    "HostPolicyInfo",
    "Liveness",
    "Operation",
    "PlanOutcome",
    "PlanSummary",
    "Problem",
    "ProblemFieldError",
    "ProcessStatus",
    "ReloadOutcome",
    "RestartEvent",
    "ServerHealth",
    "ServerOutcome",
    "ServerReadBack",
    "ServerStateChange",
    "SessionInfo",
    "SessionLogin",
    "SourceCheck",
    "Supervision",
    "ValidateOutcome",
]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Diagnostic(_Doc):
    """One line of ``haproxy -c`` output; ``line`` and ``text`` name the checked config's
    line (or the submitted text's, in the source view), ``field`` the spec field."""

    severity: str = Field(description="alert | warning | notice")
    message: str
    line: int | None = None
    text: str | None = None
    field: str | None = None


class ReloadOutcome(_Doc):
    """A reload: ``method`` (``master-cli``, ``show-proc``, ``sf``...), ``duration_s``,
    HAProxy's ``output`` and when it ended (``at``)."""

    ok: bool
    method: str
    duration_s: float
    output: str
    at: float


class ApplyOutcome(_Doc):
    """What an apply, a source save or a rollback did: the version now current (unchanged
    when ``changed`` is false), the reload (``null``: none was needed), the ``haproxy -c``
    warnings, and the seconds it took (``queued_s`` of them waiting for earlier writes)."""

    version: int
    changed: bool
    reload: ReloadOutcome | None
    diagnostics: list[Diagnostic]
    duration_s: float
    queued_s: float


class ConfigDocument(_Doc):
    """``GET /api/v1/config``: the current spec and its version (also the ``ETag``)."""

    version: int
    spec: Spec


class ValidateOutcome(_Doc):
    """A dry run: ``ok`` false when HAProxy rejects the text (its alerts in ``diagnostics``);
    ``config`` the rendered haproxy.cfg."""

    ok: bool
    diagnostics: list[Diagnostic]
    config: str


class SourceCheck(ValidateOutcome):
    """The source view's *validate*: the imported ``spec`` and whether applying it would make
    a new version (``changed``)."""

    spec: Spec
    changed: bool


class Changes(_Doc):
    """Names added, removed and changed (servers as ``backend/server``, clients as
    ``frontend/client``)."""

    added: list[str]
    removed: list[str]
    changed: list[str]


class PlanSummary(_Doc):
    """What a plan changes, by kind; ``settings`` the top-level parts that differ
    (``global``, ``defaults``, ``comment``)."""

    frontends: Changes
    backends: Changes
    servers: Changes
    clients: Changes
    sections: Changes
    settings: list[str]


class PlanOutcome(_Doc):
    """A plan: the unified ``diff`` of the live haproxy.cfg against the planned ``config``."""

    version: int
    changed: bool
    diff: str
    summary: PlanSummary
    config: str


class ServerHealth(_Doc):
    """One server as ``show stat`` reads it (:class:`lbctl.haproxy.runtime.ServerHealth`)."""

    backend: str
    server: str
    status: str
    status_raw: str
    check_status: str | None
    check_duration_ms: int | None
    last_change_s: int | None
    weight: int | None
    current_sessions: int
    queue: int
    request_rate: int | None
    http_5xx: int | None
    usable: bool


class BackendHealth(_Doc):
    """A backend: its ``BACKEND`` row status, ``usable`` (a server can take traffic)."""

    name: str
    status: str
    usable: bool
    servers: list[ServerHealth]


class HAProxyLiveness(_Doc):
    """Whether a verified HAProxy master runs, and why not."""

    running: bool
    unavailable: str | None


class RestartEvent(_Doc):
    """A supervisor's restart of HAProxy (:mod:`lbctl.control.recovery`)."""

    at: float
    reason: str
    old_master_pid: int | None
    config: str | None
    new_master_pid: int | None
    duration_s: float
    ok: bool
    error: str | None


class Supervision(_Doc):
    """Whether a supervisor watches HAProxy; restarts done and failed since the agent started."""

    enabled: bool
    restarts: int
    failed_restarts: int
    last_restart: RestartEvent | None


class CertificateHealth(_Doc):
    """A store object the spec uses, by expiry: ``critical`` within 3 days (or expired: a
    reason, ``ok`` false), ``warning`` within 14 (``ok`` stays true), else ``ok``."""

    name: str
    kind: Literal["certificate", "ca"]
    not_after: str = Field(description="ISO 8601, UTC")
    expires_in_s: float = Field(description="seconds until not_after (negative: expired)")
    status: Literal["ok", "warning", "critical"]


class HealthReport(_Doc):
    """``GET /api/v1/health`` (200 when ``ok``, 503 otherwise, same body): ``reasons`` says in
    words what is wrong (HAProxy down, no listener, a backend without a usable server, a
    certificate in use expiring within 3 days); ``warnings`` what is not wrong yet (a
    certificate in use expiring within 14 days: ``ok`` stays true)."""

    ok: bool
    haproxy: HAProxyLiveness
    backends: list[BackendHealth]
    reasons: list[str]
    warnings: list[str] = []
    certificates: list[CertificateHealth] = []
    checked_at: float
    supervision: Supervision


class ProcessStatus(_Doc):
    """The HAProxy processes (:class:`lbctl.haproxy.process.ProcessStatus`); with no process
    object only ``running`` (false) and ``error``."""

    running: bool
    master_pid: int | None = None
    worker_pids: list[int] = []
    uptime_s: float | None = None
    rss_bytes: int | None = None
    cpu_percent: float | None = None
    version: str | None = None
    reload_count: int | None = None
    last_reload: ReloadOutcome | None = None
    mode: str | None = None
    error: str | None = None


class BinaryInfo(_Doc):
    """The HAProxy binary in use."""

    path: str
    version: str
    version_line: str
    lua: bool


class HostPolicyInfo(_Doc):
    """The host policy in force (:meth:`lbctl.spec.policy.HostPolicy.describe`)."""

    file_roots: list[str]
    socket_roots: list[str]
    allowed_directives: list[str]
    refused_directives: list[str]
    haproxy_user: str | None
    haproxy_group: str | None


class HAProxyStatus(_Doc):
    """``GET /api/v1/haproxy``."""

    haproxy: ProcessStatus
    binary: BinaryInfo | None
    state_dir: str
    spec_version: int
    supervision: Supervision
    policy: HostPolicyInfo


class HistoryEntry(_Doc):
    """One history entry (:class:`lbctl.state.history.Entry`): ``version`` null for a failed
    attempt or a reload; ``confirmed`` what an ``allow_empty`` write confirmed it loses."""

    id: int
    version: int | None
    base_version: int | None
    kind: str
    result: str
    at: float
    who: str
    author: str
    message: str
    spec_sha256: str | None
    config_sha256: str | None
    diagnostics: list[Diagnostic]
    reload: ReloadOutcome | None
    error: str | None
    queued_ms: float
    duration_ms: float
    rollback_of: int | None
    confirmed: str | None


class HistoryEntryWithBodies(HistoryEntry):
    """A history entry with its ``spec`` and rendered ``config``."""

    spec: Spec | None
    config: str | None


class HistoryPage(_Doc):
    """A page of the history, newest first; ``next_before`` is the ``before`` of the next
    (older) page, null on the last."""

    entries: list[HistoryEntry]
    next_before: int | None


class ServerStateChange(_Doc):
    """The body of a server state change: ``state`` and/or ``weight`` (at least one)."""

    state: Literal["ready", "drain", "maint"] | None = None
    weight: int | None = Field(default=None, ge=0, le=256)


class ServerReadBack(_Doc):
    """A server as read back after a runtime change."""

    backend: str
    server: str
    state: str
    weight: int
    runtime_weight: int | None
    status: str
    status_raw: str
    check_status: str | None
    usable: bool


class ServerOutcome(_Doc):
    """A server state change: the version it was recorded as and the server read back."""

    version: int
    changed: bool
    server: ServerReadBack


class ClientCounters(_Doc):
    """One client of one frontend: its limit and its counters (:mod:`lbctl.control.clients`)."""

    frontend: str
    client: str
    path_prefix: str
    mode: str
    rate: int
    burst: int
    table: str
    request_rate: int
    waiting: int | None
    delayed_total: int
    rejected_total: int
    expires_in_ms: int | None


class ClientsReport(_Doc):
    """``GET /api/v1/clients``."""

    clients: list[ClientCounters]
    reload_keeps_counters: bool | None
    checked_at: float


class ClearedEntry(_Doc):
    """A stick-table entry removed."""

    frontend: str
    client: str
    table: str


class ClearedCounters(_Doc):
    """``DELETE /api/v1/clients/{name}/counters``."""

    cleared: list[ClearedEntry]


class Liveness(_Doc):
    """``GET /healthz``."""

    status: Literal["ok"]


class SessionLogin(_Doc):
    """The body of ``POST /api/v1/session``: the token to exchange for a UI session."""

    token: str = Field(min_length=1, max_length=512,
                       description="An agent token (the bearer token), any role")


class SessionInfo(_Doc):
    """``POST`` / ``GET /api/v1/session``: who the session acts as (the token's name and
    current role), the ``csrf_token`` every cookie-authenticated write sends as
    ``X-CSRF-Token``, and ``expires_at``, unlike the other ``*_at`` members an ISO 8601 UTC
    time (``2026-12-02T09:00:00Z``), as the UI shows it."""

    role: Literal["viewer", "operator", "admin"]
    token_name: str
    csrf_token: str
    expires_at: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                            examples=["2026-12-02T09:00:00Z"])


class ProblemFieldError(_Doc):
    """One bad field or parameter: ``loc`` its path (``frontends[0].bind[0]``,
    ``query.before``), ``line`` the submitted line, ``directive`` what the policy refused."""

    loc: str
    message: str
    line: int | None = None
    directive: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, every error of the agent: ``type`` a stable URN per error
    class, ``error`` the class name (:mod:`lbctl.errors`), and the members of that class."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:lbctl:problem:version-conflict"])
    title: str
    status: int
    detail: str
    error: str | None = Field(default=None, description="the lbctl.errors class")
    errors: list[ProblemFieldError] | None = None
    current_version: int | None = None
    required_role: str | None = None
    diagnostics: list[Diagnostic] | None = None
    output: str | None = None
    reason: str | None = None
    line: int | None = None
    column: int | None = None
    reasons: list[str] | None = None
    confirm: str | None = None
    nodes: dict[str, str] | None = Field(default=None, description="FleetRefused: why each "
                                         "refusing node said no")
    etcd: str | None = Field(default=None, description="FleetUnavailable: the etcd endpoint")


class Operation(_Doc):
    """An asynchronous write (``?wait=false``): ``pending`` until done, then ``succeeded``
    with the ``result`` the synchronous call answers, or ``failed`` with its ``problem``.
    ``id`` is the correlation id (``X-Request-Id`` of the 202)."""

    id: str
    kind: str
    status: Literal["pending", "succeeded", "failed"]
    created_at: float
    finished_at: float | None
    who: str
    result: ApplyOutcome | ServerOutcome | None
    problem: Problem | None


class FleetEtcd(_Doc):
    """The fleet's etcd as this node sees it: ``reachable`` false (and ``error``, and
    ``down_since`` in epoch seconds) while it cannot be reached."""

    endpoint: str
    reachable: bool
    error: str | None = None
    down_since: float | None = None


class FleetApplyResult(_Doc):
    """A node's last apply of a committed version: ``result`` ``changed`` | ``unchanged`` |
    ``failed`` (``error`` says why), ``reload_ok`` (``null``: no reload, e.g. a start),
    ``at`` epoch seconds, ``duration_s`` seconds."""

    version: int
    ok: bool
    result: str
    error: str | None = None
    reload_ok: bool | None = None
    at: float
    duration_s: float


class FleetNode(_Doc):
    """One node: ``live`` while its lease is held; ``applied_version`` the version it runs,
    ``lagging`` when that is not the committed one (live nodes only); ``healthy`` and
    ``reasons`` its own health; ``reported_at`` epoch seconds of its last report."""

    name: str
    live: bool
    agent: str
    peer: str | None = Field(default=None, description="host:port of its local peer")
    applied_version: int | None
    haproxy: str | None
    healthy: bool
    reasons: list[str]
    last_result: FleetApplyResult | None
    lagging: bool
    reported_at: float | None


class FleetSummary(_Doc):
    """``ok`` false when etcd is away or a live node lags or is unhealthy; ``live`` / ``nodes``
    counts; the names of the lagging, unhealthy and failed (last apply) live nodes."""

    ok: bool
    live: int
    nodes: int
    lagging: list[str]
    unhealthy: list[str]
    failed: list[str]


class FleetStatus(_Doc):
    """``GET /api/v1/fleet``: ``mode`` ``single`` (no ``--fleet``: no nodes, this agent alone)
    or ``fleet`` with this ``node``'s view of every node and the ``committed_version``."""

    mode: Literal["single", "fleet"]
    fleet: str | None
    node: str | None
    etcd: FleetEtcd | None
    committed_version: int | None
    nodes: list[FleetNode]
    summary: FleetSummary
    checked_at: float | None = None


def dump(model: BaseModel) -> dict[str, Any]:
    """``model`` as JSON-ready data with aliases (a spec's ``global``, ``from``)."""
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return data
