"""The agent's OpenAPI contract: declared errors, headers and bodies, and the finished document.

Routes declare what they answer with the helpers here — :func:`problems` (every error status
an operation can send, as problem+json), :data:`ETAG` / :data:`LOCATION` (response headers),
:data:`SPEC_BODY` / :data:`TEXT_BODY` / :data:`PLAN_BODY` / :data:`SERVER_STATE_BODY`
(bodies read by hand, :mod:`lbctl.api.deps`) — and :func:`openapi` finishes the document:
the ``Spec``, ``Problem`` and body schemas in ``components``, ``If-Match`` required with its
pattern on every write (optional where a mode needs none: :data:`IF_MATCH_OPTIONAL`),
FastAPI's own validation-error schemas replaced by ``Problem`` (every
error is problem+json from :mod:`lbctl.api.errors`), and the integer bounds.

Client generators: a haproxy.cfg text (``text/plain``) and a PEM bundle
(``application/x-pem-file``) are declared as strings of ``format: binary`` (the file's bytes,
sent as they are). ``openapi-python-client`` knows no ``application/yaml``, ``text/plain`` or
PEM body; :data:`GENERATOR_CONFIG` (its ``--config``) maps YAML onto JSON (a JSON document is
YAML: the generated client sends the ``Spec`` as JSON under ``application/yaml``) and text and
PEM onto raw bytes, so it generates every operation without a warning
(``tests/test_openapi_client.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_core import to_json

from lbctl.api.deps import IF_MATCH_PATTERN, etag
from lbctl.api.errors import PROBLEM_JSON
from lbctl.client.models import ApplyOutcome, Operation, Problem, ServerStateChange, SourceCheck
from lbctl.spec import Spec

__all__ = [
    "ETAG",
    "GENERATOR_CONFIG",
    "IF_MATCH_OPTIONAL",
    "LOCATION",
    "PLAN_BODY",
    "SERVER_STATE_BODY",
    "SPEC_BODY",
    "TAGS",
    "TEXT_BODY",
    "answer",
    "ok",
    "openapi",
    "problems",
]

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

#: What each error status means, for every operation that declares it.
_MEANING: dict[int, str] = {
    400: "A runtime API argument was refused before it reached HAProxy (CommandRefused)",
    401: "Missing or wrong bearer token (AuthError)",
    403: "The token's role is not enough; required_role names the one needed (Forbidden), or a "
         "write authenticated by the UI's session cookie came without its X-CSRF-Token or "
         "from another origin (CsrfRefused)",
    404: "No such backend, server, client, version, entry, operation or token (NotFound)",
    409: "HAProxy refused the reload (ReloadFailed; the old config keeps serving), or the "
         "write would leave no listener or empty a backend in use (ConfirmationRequired: "
         "send allow_empty=true), or a token of that name exists (NameTaken)",
    412: "If-Match names a stale version or no version at all; current_version says which "
         "is current (VersionConflict); nothing changed",
    422: "An invalid spec (errors[] with field paths), request parameter (InvalidRequest) or "
         "body (UnreadableBody), or HAProxy rejected the config (ConfigRejected, "
         "diagnostics[]; on a fleet: FleetRefused, nodes names each refusing node); "
         "nothing changed",
    428: "If-Match is missing or *: every write names the version it edits "
         "(PreconditionRequired)",
    500: "The state dir or history failed (StoreError), or a bug (see the agent log)",
    502: "An HAProxy runtime API round trip failed (RuntimeAPIError, HAProxyError)",
    503: "HAProxy is not running or its binary is missing (HAProxyUnavailable, "
         "BinaryNotFound), or a fleet's etcd cannot be reached (FleetUnavailable)",
}

#: The ``ETag`` response header: the version now current.
ETAG: dict[str, Any] = {"ETag": {"description": 'The current spec version as a strong entity '
                                                'tag: "7"',
                                 "schema": {"type": "string", "pattern": r'^"[0-9]+"$'}}}
#: The ``Location`` (and ``X-Request-Id``) of a 202: the operation to poll.
LOCATION: dict[str, Any] = {
    "Location": {"description": "/api/v1/operations/{id}", "schema": {"type": "string"}},
    "X-Request-Id": {"description": "The operation id (the correlation id)",
                     "schema": {"type": "string"}},
}

#: Tags, with their descriptions (the sections of ``/docs``).
TAGS: list[dict[str, str]] = [
    {"name": "config", "description": "The spec: read, apply, dry run, plan, source view"},
    {"name": "history", "description": "Every version, failed attempt and reload; rollback"},
    {"name": "servers", "description": "Runtime server state and weight (no reload)"},
    {"name": "clients", "description": "Per-client rate-limit counters"},
    {"name": "certificates", "description": "The certificate store: TLS certificates and CAs "
                                            "the spec names"},
    {"name": "haproxy", "description": "The HAProxy process: status, reload, health"},
    {"name": "operations", "description": "Asynchronous writes (?wait=false): their outcome"},
    {"name": "session", "description": "The admin UI's login: a token exchanged for an HttpOnly "
                                       "session cookie, accepted wherever the token is (writes "
                                       "then need X-CSRF-Token and a same-origin Origin)"},
    {"name": "tokens", "description": "The named API tokens and their roles: create (the "
                                      "secret is shown once), list, revoke"},
    {"name": "fleet", "description": "The nodes sharing one desired state in etcd (--fleet)"},
    {"name": "logs", "description": "HAProxy's log lines, collected by the agent"},
    {"name": "probe", "description": "Liveness of the agent and Prometheus metrics"},
]


def problems(*codes: int, auth: bool = True) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries of the error statuses ``codes`` (401, 403 and 500 always,
    401/403 only with ``auth``), each problem+json."""
    every = {*codes, 500} | ({401, 403} if auth else set())
    return {code: {"description": _MEANING[code], "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}
            for code in sorted(every)}


def ok(model: type[BaseModel], description: str, *, etag_header: bool = False,
       accepted: bool = False) -> dict[int | str, dict[str, Any]]:
    """The 200 of an operation answering ``model`` (with the ``ETag`` header when
    ``etag_header``), and with ``accepted`` the 202 of ``?wait=false``."""
    out: dict[int | str, dict[str, Any]] = {200: {"model": model, "description": description}}
    if etag_header:
        out[200]["headers"] = ETAG
    if accepted:
        out[202] = {"description": "Accepted (?wait=false): poll Location for the outcome",
                    "headers": LOCATION,
                    "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/Operation"}}}}
    return out


class FastJSONResponse(JSONResponse):
    """A :class:`JSONResponse` whose body is pydantic-core's ``to_json`` (Rust): the same
    compact UTF-8 JSON as Starlette's ``json.dumps`` for the plain values answers hold, about
    ten times faster on a large one (the spec of a 10,000-backend config is ~3 MB)."""

    def render(self, content: Any) -> bytes:
        """The JSON bytes of ``content`` (dicts, lists, str, int, float, bool, None)."""
        return to_json(content)


def answer(data: dict[str, Any], *, status: int = 200, version: int | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON answer (handlers return it as is, so the spec keeps its compact form) with the
    ``ETag`` of ``version`` when given."""
    out = dict(headers or {})
    if version is not None:
        out["ETag"] = etag(version)
    return FastJSONResponse(data, status_code=status, headers=out)


def _body(content: dict[str, Any], description: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "description": description, "content": content}}


#: YAML carries the same document as JSON (the spec written as YAML).
_YAML = {"schema": {"$ref": "#/components/schemas/Spec"}}
#: A spec body, JSON or YAML.
SPEC_BODY = _body({"application/json": {"schema": {"$ref": "#/components/schemas/Spec"}},
                   "application/yaml": _YAML},
                  "A spec as JSON, or as YAML with Content-Type: application/yaml.")
#: A haproxy.cfg text: the bytes of the file, UTF-8.
_TEXT = {"type": "string", "format": "binary", "description": "haproxy.cfg text (UTF-8)"}
#: ``openapi-python-client --config``: generate every operation, with no warning (docstring).
GENERATOR_CONFIG: dict[str, Any] = {"content_type_overrides": {
    "application/yaml": "application/json", "text/plain": "application/octet-stream",
    "application/x-pem-file": "application/octet-stream"}}
#: A haproxy.cfg text (the source view). Its example is a full, harmless config.
TEXT_BODY = _body({"text/plain": {"schema": _TEXT, "example": (
    "frontend web\n    bind 127.0.0.1:11223\n    default_backend app\n\n"
    "backend app\n    server s1 127.0.0.1:8080 check\n")}},
    "A haproxy.cfg text; one with no frontend is refused unless allow_empty=true.")
#: A spec (JSON or YAML) or a haproxy.cfg text.
PLAN_BODY = _body({"application/json": {"schema": {"$ref": "#/components/schemas/Spec"}},
                   "application/yaml": _YAML, "text/plain": {"schema": _TEXT}},
                  "A spec (JSON, or YAML with Content-Type: application/yaml), or a haproxy.cfg "
                  "source with Content-Type: text/plain.")
#: A server state change.
SERVER_STATE_BODY = _body({"application/json": {"schema": {
    "$ref": "#/components/schemas/ServerStateChange"}}}, "state and/or weight")

_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def _schemas_of(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation",
                                     ref_template="#/components/schemas/{model}")
    out: dict[str, Any] = schema.pop("$defs", {})
    out[model.__name__] = schema
    return out


#: Writes whose ``If-Match`` is required only in one mode, declared optional (OpenAPI has no
#: conditional requirement) with what the mode is: the 428 of the other is declared.
IF_MATCH_OPTIONAL = {
    "put_config_source": "Required unless dry_run=true (a dry run changes nothing and ignores "
                         "it; without it, an apply answers 428).",
}


def openapi(app: FastAPI) -> dict[str, Any]:
    """The finished OpenAPI document of ``app`` (module docstring), cached on the app."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description,
                      routes=app.routes, tags=TAGS, separate_input_output_schemas=False)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (Spec, ServerStateChange, Problem, Operation, SourceCheck, ApplyOutcome):
        for name, schema in _schemas_of(model).items():
            schemas.setdefault(name, schema)
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    for ops in doc.get("paths", {}).values():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param["name"] == "If-Match":
                    optional = op.get("operationId") in IF_MATCH_OPTIONAL
                    param["required"] = not optional
                    if optional:
                        param["description"] = (param.get("description", "") + " "
                                                 + IF_MATCH_OPTIONAL[op["operationId"]]).strip()
                    param["schema"] = {"type": "string", "pattern": IF_MATCH_PATTERN,
                                       "examples": ['"1"']}
            for resp in op.get("responses", {}).values():
                for media in list(resp.get("content", {})):
                    ref = resp["content"][media].get("schema", {}).get("$ref", "")
                    if ref.rsplit("/", 1)[-1] in _FASTAPI_VALIDATION:
                        resp["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
    app.openapi_schema = doc
    return doc
