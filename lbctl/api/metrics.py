"""The agent's own Prometheus metrics at ``GET /metrics`` (the text exposition format of
prometheus-client's ``CONTENT_TYPE_LATEST``).

``/metrics`` needs a bearer token like ``/api/v1``, of any role (``viewer`` is enough: give
Prometheus its own, ``lbctl token create --role viewer --name prometheus``; its
``scrape_config`` sets ``authorization: {type: Bearer, credentials_file: ...}``). Each app has its own
:class:`prometheus_client.CollectorRegistry` (never the process-wide default one), so two
agents in one process (tests) never share counters. Metrics:

======================================  =========  ===============================================
``lbctl_applies_total{result}``         counter    ``PUT /api/v1/config`` and rollback
                                                   outcomes: ``changed``, ``unchanged``,
                                                   ``invalid`` (spec fields or ``haproxy -c``),
                                                   ``conflict`` (If-Match missing or stale),
                                                   ``failed`` (anything else)
``lbctl_reloads_total{result}``         counter    reloads asked of HAProxy: ``ok``, ``failed``
``lbctl_apply_duration_seconds``        histogram  wall time of every apply that reached the
                                                   controller (not those refused by field
                                                   validation), seconds
``lbctl_validation_errors_total``       counter    ``{stage="spec"}`` field errors in a PUT or
                                                   validate body; ``{stage="policy"}`` texts the
                                                   host policy refused (apply, rollback,
                                                   validate, source, plan;
                                                   :mod:`lbctl.spec.policy`);
                                                   ``{stage="haproxy"}`` configs
                                                   ``haproxy -c`` rejected (apply or dry run)
``lbctl_haproxy_up``                    gauge      1 while the controller's HAProxy runs, else 0
``lbctl_haproxy_restarts_total``        counter    restarts of a dead HAProxy by the supervisor
``{result}``                                       since the agent started: ``ok``, ``failed``
                                                   (:mod:`lbctl.control.recovery`)
``lbctl_spec_version``                  gauge      the current spec version
``lbctl_certificate_expiry_seconds``    gauge      seconds until each store object's
``{name}``                                         not-after (negative once expired), read
                                                   from the certificate store at each scrape
                                                   (:mod:`lbctl.state.certs`); alert below
                                                   14 days (health warns) and 3 (critical)
======================================  =========  ===============================================

HAProxy's own exporter (``haproxy_*`` metrics) is separate: ``global.prometheus_exporter`` in
the spec serves it from HAProxy itself, on its own bind, without a token.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from lbctl.api.auth import require_role
from lbctl.api.contract import problems
from lbctl.control.controller import Controller
from lbctl.state.certs import CertStore

__all__ = ["APPLY_RESULTS", "VALIDATION_STAGES", "Metrics", "metrics_router"]

#: Values of the ``result`` label of ``lbctl_applies_total`` (all exported from the start).
APPLY_RESULTS = ("changed", "unchanged", "invalid", "conflict", "failed")
#: Values of the ``stage`` label of ``lbctl_validation_errors_total`` (all exported from the start).
VALIDATION_STAGES = ("spec", "policy", "haproxy")
#: Buckets of ``lbctl_apply_duration_seconds``, seconds (an apply is ~30 ms to a few seconds).
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The agent's metrics over ``controller``; registers itself as a controller listener
    (:class:`lbctl.control.controller.ControllerListener`)."""

    def __init__(self, controller: Controller) -> None:
        self.registry = CollectorRegistry()
        self.applies = Counter("lbctl_applies", "Spec applies by outcome.", ["result"],
                               registry=self.registry)
        self.reloads = Counter("lbctl_reloads", "HAProxy reloads by outcome.", ["result"],
                               registry=self.registry)
        self.apply_duration = Histogram(
            "lbctl_apply_duration_seconds", "Wall time of an apply, seconds.",
            buckets=DURATION_BUCKETS, registry=self.registry)
        self.validation_errors = Counter(
            "lbctl_validation_errors",
            "Specs refused: field errors (spec), the host policy (policy) or haproxy -c (haproxy).",
            ["stage"], registry=self.registry)
        up = Gauge("lbctl_haproxy_up", "1 while HAProxy runs.", registry=self.registry)
        up.set_function(lambda: 1.0 if controller.haproxy_running() else 0.0)
        version = Gauge("lbctl_spec_version", "The current spec version.", registry=self.registry)
        version.set_function(lambda: float(controller.version))
        self.registry.register(_RestartCollector(controller))
        self.registry.register(_CertificateCollector(controller))
        for result in APPLY_RESULTS:
            self.applies.labels(result=result)
        for result in ("ok", "failed"):
            self.reloads.labels(result=result)
        for stage in VALIDATION_STAGES:
            self.validation_errors.labels(stage=stage)
        controller.listeners.append(self)

    # -- ControllerListener ---------------------------------------------------------------
    def on_apply(self, result: str, duration_s: float) -> None:
        """An apply reached the controller: count its outcome, observe its duration."""
        self.applies.labels(result=result).inc()
        self.apply_duration.observe(duration_s)

    def on_reload(self, ok: bool) -> None:
        """A reload was asked of HAProxy."""
        self.reloads.labels(result="ok" if ok else "failed").inc()

    def on_validation_error(self, stage: str) -> None:
        """A spec was refused at ``stage`` (``spec``, ``policy`` or ``haproxy``)."""
        self.validation_errors.labels(stage=stage).inc()

    # -- the API side -----------------------------------------------------------------------
    def spec_invalid(self, *, apply: bool) -> None:
        """A request body failed field validation; ``apply`` when it was a ``PUT`` (an apply
        that never reached the controller: counted, not timed)."""
        self.on_validation_error("spec")
        if apply:
            self.applies.labels(result="invalid").inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class _RestartCollector(Collector):
    """``lbctl_haproxy_restarts_total{result}`` read from the controller's restart record at
    each scrape (the record is the one source; nothing is counted twice)."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def collect(self) -> Iterator[Metric]:
        sup = self.controller.supervision()
        family = CounterMetricFamily("lbctl_haproxy_restarts",
                                     "Restarts of a dead HAProxy by the supervisor.",
                                     labels=["result"])
        family.add_metric(["ok"], float(sup["restarts"]))
        family.add_metric(["failed"], float(sup["failed_restarts"]))
        yield family


class _CertificateCollector(Collector):
    """``lbctl_certificate_expiry_seconds{name}`` of every object of the certificate store,
    read at each scrape (the store is the one source; an unreadable file is left out)."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("lbctl_certificate_expiry_seconds",
                                   "Seconds until a stored certificate's not-after.",
                                   labels=["name"])
        for info in CertStore(self.controller.core.state.root).all():
            family.add_metric([info.name], info.expires_in_s())
        yield family


metrics_router = APIRouter(tags=["probe"])


@metrics_router.get(
    "/metrics",
    dependencies=[Depends(require_role("viewer"))],
    summary="The agent's metrics (Prometheus text format; viewer token)",
    operation_id="get_metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text exposition format",
                     "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
               **problems()},
)
def metrics(request: Request) -> Response:
    """``lbctl_*`` counters, histogram and gauges (module docstring) as ``text/plain``
    (``version=`` the exposition format of prometheus-client's ``CONTENT_TYPE_LATEST``)."""
    registry: Metrics = request.app.state.metrics
    return Response(registry.exposition(), media_type=CONTENT_TYPE_LATEST)
