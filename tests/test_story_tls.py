"""The story over HTTPS (issue 17 item 5): haproxy/specs/story-tls.yaml on a real HAProxy.

The shipped spec is loaded as a user would apply it, only its ports moved to free 127.0.0.1
ports and the frontend told to forward each paced request's departure slot
(:data:`lbctl.demo.pacing.FORWARD_SLOT_LINE`, as in tests/test_smoothing.py). Its certificate
``site`` is a leaf of a CA made by the test (tests/tls_helpers.py), checked by the store's own
:func:`lbctl.state.pem.parse_bundle` and kept where the store keeps it. Bursts go over real TLS
(:func:`lbctl.demo.load.simultaneous` verifying the test CA) to a
:class:`~lbctl.demo.backend.KernelTimedBackend`; the figures are those of
tests/test_smoothing.py: 150 from client1 serve 101 (plus what frees while the burst is
written), the rest get 429 with ``Retry-After: 1``, arrivals paced at 10/s, client2 not
delayed. Runs on the bundled HAProxy 2.8 and Debian's 2.6.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lbctl.demo.backend import KernelTimedBackend
from lbctl.demo.load import Result, ServerProcess, free_port, simultaneous, status_counts
from lbctl.demo.pacing import FORWARD_SLOT_LINE
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.haproxy.binary import inspect_binary
from lbctl.paths import assets_dir
from lbctl.render import RenderContext, peer_args, render
from lbctl.render.tls import certificate_path
from lbctl.spec import load_spec, validate_spec
from lbctl.state.pem import parse_bundle
from tests.test_smoothing import (
    CLIENT2_MAX_LATENCY_S,
    TIMEOUT_S,
    Rig,
    _binaries,
    assert_not_delayed,
    assert_paced,
    assert_retry_after,
)
from tests.tls_helpers import bundle, issue, make_ca

pytestmark = pytest.mark.slow

STORY_TLS = assets_dir() / "specs" / "story-tls.yaml"


class TlsRig(Rig):
    """The story's HAProxy: ``url`` is its https bind, ``plain`` its http bind, ``tls`` a
    context trusting the test CA."""

    plain: str
    tls: ssl.SSLContext

    def fire(self, groups: dict[str, tuple[str, int]]) -> dict[str, list[Result]]:
        """Fire the bursts of ``groups`` (label → (prefix, n)) at once over HTTPS."""
        return asyncio.run(simultaneous(self.url, groups, timeout_s=TIMEOUT_S, tls=self.tls))


def story_tls(tls_port: int, plain_port: int, backend_port: int) -> dict[str, Any]:
    """The shipped story-tls.yaml with its ports moved and the slot forwarded."""
    data: dict[str, Any] = yaml.safe_load(STORY_TLS.read_text(encoding="utf-8"))
    data["global"]["peers_port"] = free_port()
    (front,) = data["frontends"]
    plain, secure = front["bind"]
    assert secure["tls"]["certificates"] == ["site"] and "tls" not in plain
    assert plain.startswith("127.0.0.1:") and secure["address"].startswith("127.0.0.1:")
    front["bind"] = [f"127.0.0.1:{plain_port}", {**secure, "address": f"127.0.0.1:{tls_port}"}]
    front["extra"] = [*front.get("extra", []), FORWARD_SLOT_LINE]
    data["backends"][0]["servers"][0]["port"] = backend_port
    return data


@pytest.fixture(params=_binaries())
def story(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TlsRig]:
    binary = inspect_binary(request.param)
    caps = Capabilities.for_target(HAProxyVersion.parse(str(binary.version)), lua=binary.has("lua"))
    authority = make_ca()
    checked = parse_bundle("site", bundle(issue(authority)))  # the store's own check
    store_file = certificate_path(tmp_path, "site")
    store_file.parent.mkdir(mode=0o700)
    store_file.write_bytes(checked.pem)
    backend = KernelTimedBackend("backend").start()
    tls_port, plain_port = free_port(), free_port()
    try:
        spec = validate_spec(story_tls(tls_port, plain_port, backend.port))
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(render(spec, caps, RenderContext(tmp_path)))
        with ServerProcess([binary.path, "-db", "-f", str(cfg), *peer_args(caps)],
                           ready_port=tls_port, log_path=tmp_path / "haproxy.log"):
            rig = TlsRig(f"https://127.0.0.1:{tls_port}", backend, tmp_path, frontend="front_https")
            rig.plain = f"http://127.0.0.1:{plain_port}"
            rig.tls = ssl.create_default_context(cadata=authority.cert_pem.decode())
            yield rig
    finally:
        backend.stop()


def test_story_tls_serves_https_and_redirects_plain(story: TlsRig) -> None:
    with httpx.Client(verify=story.tls) as client:
        r = client.get(f"{story.url}/client2/hello")
        assert r.status_code == 200 and r.headers["strict-transport-security"] == "max-age=3600"
        r = client.get(f"{story.plain}/client1/x?y=1", follow_redirects=False)
    assert r.status_code == 308
    assert r.headers["location"] == f"https://127.0.0.1:{story.plain.rsplit(':', 1)[1]}/client1/x?y=1"
    assert story.backend.snapshot("/client1/") == []  # the redirect never reached the backend
    # A client that does not trust the CA gets no answer at all.
    bad = asyncio.run(simultaneous(story.url, {"x": ("/client2", 1)}, timeout_s=TIMEOUT_S))["x"]
    assert bad[0].status == 0 and "CERTIFICATE_VERIFY_FAILED" in str(bad[0].error)


def test_story_tls_150_overflow_gets_429(story: TlsRig) -> None:
    client1 = load_spec(STORY_TLS).frontends[0].clients[0].model_dump()
    out = story.fire({"client1": ("/client1", 150), "client2": ("/client2", 100)})
    counts = status_counts(out["client1"])
    # As tests/test_smoothing.py test_smooth_150_overflow_gets_429: 1 + burst served when the
    # burst is simultaneous, plus rate * S for a burst written over S seconds.
    sent = sorted(r.sent_at for r in out["client1"])
    freed = math.floor((sent[-1] - sent[0]) * client1["rate"])
    served = counts[200]
    assert set(counts) == {200, 429} and served + counts[429] == 150, counts
    assert 101 <= served <= 101 + freed, f"{counts}, burst written over {sent[-1] - sent[0]:.3f} s"
    assert_retry_after(out["client1"], client1)
    assert max(r.latency_s for r in out["client1"] if r.status == 429) < CLIENT2_MAX_LATENCY_S
    assert_paced(story, "/client1", expected=served, rate=client1["rate"])
    assert_not_delayed(out["client2"])


def test_load_generator_refuses_a_tls_context_for_plain_http() -> None:
    context = ssl.create_default_context()
    with pytest.raises(ValueError, match="plain URL"):
        asyncio.run(simultaneous("http://127.0.0.1:1", {"x": ("/x", 1)}, timeout_s=1, tls=context))
    with pytest.raises(ValueError, match="http\\(s\\)"):
        asyncio.run(simultaneous("ftp://127.0.0.1:1", {"x": ("/x", 1)}, timeout_s=1))
