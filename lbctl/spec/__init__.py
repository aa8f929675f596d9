"""The desired state of one HAProxy: pydantic models (:mod:`~lbctl.spec.models`), servers and
health checks (:mod:`~lbctl.spec.servers`), allowlisted scalar types (:mod:`~lbctl.spec.types`),
the verbatim-line checks (:mod:`~lbctl.spec.lines`), the whole-spec checks
(:mod:`~lbctl.spec.checks`) and YAML/JSON in and out (:mod:`~lbctl.spec.io`)."""

from __future__ import annotations

from lbctl.spec.checks import format_loc, spec_from_json, validate_spec, validation_errors
from lbctl.spec.io import dump_spec, json_schema, load_spec, parse_spec_text
from lbctl.spec.models import (
    TIMEOUT_EVENTS,
    Backend,
    Bind,
    BindSpec,
    Client,
    Defaults,
    ExtraSection,
    Frontend,
    GlobalSettings,
    PrometheusExporter,
    Route,
    Spec,
    Timeouts,
)
from lbctl.spec.servers import HealthCheck, Server

__all__ = ["TIMEOUT_EVENTS", "Backend", "Bind", "BindSpec", "Client", "Defaults", "ExtraSection", "Frontend",
           "GlobalSettings", "HealthCheck", "PrometheusExporter", "Route", "Server", "Spec",
           "Timeouts", "dump_spec", "format_loc", "json_schema", "load_spec", "parse_spec_text",
           "spec_from_json", "validate_spec", "validation_errors"]
