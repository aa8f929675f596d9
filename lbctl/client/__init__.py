"""The public Python client of the lbctl agent (sync and async), also what the CLI uses.

    from lbctl.client import Client

    with Client("http://127.0.0.1:9900", token) as lb:
        health = lb.health()                  # Result[HealthReport]
        if not health.ok: print(health.data.reasons)
        lb.drain("app", "s1").raise_for_problem()
        lb.update(lambda spec: spec.model_copy(update={...}))   # retries on 412

Every call answers a :class:`Result`: ``ok``, ``data`` (the typed document of
:mod:`lbctl.client.models`), ``details`` (the typed problem), ``version`` (from the ETag),
``inner`` (the ``httpx.Response``), and ``raise_for_problem()`` (the :mod:`lbctl.errors`
class the agent raised). :class:`AsyncClient` has the same calls as coroutines.
:class:`AgentClient` is the CLI's dict-and-raise view over the same :class:`Client`.
"""

from __future__ import annotations

from lbctl.client import models
from lbctl.client._calls import Result
from lbctl.client._client import AsyncClient, Client
from lbctl.client.agent import AgentClient
from lbctl.client.problems import DEFAULT_URL, error_from_problem, resolve_token

__all__ = ["DEFAULT_URL", "AgentClient", "AsyncClient", "Client", "Result", "error_from_problem",
           "models", "resolve_token"]
