"""The cron health check of docs/operations.md, run as written: from an empty directory with an
empty environment (cron's), against a live agent with a real HAProxy and a real backend. Only
the state dir, the agent's URL, the path to ``lbctl`` and ``notify-ops`` (the placeholder for
the operator's alerting command) are substituted."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from lbctl.demo.backend import RecordingBackend

from .agent_helpers import TOKEN, free_port, make_spec, running_agent
from .haproxy_helpers import bundled_haproxy, wait_for

DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def cron_line() -> str:
    """The command of the one ``crontab`` block of docs/operations.md (its five time fields cut)."""
    block = re.search(r"```crontab\n(.+?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    assert block, "no crontab block in docs/operations.md"
    fields = block.group(1).strip().split(None, 5)
    assert fields[:5] == ["*"] * 5, fields
    return fields[5]


def run_line(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``line`` through /bin/sh as cron runs it: cwd an empty dir, only PATH and HOME set."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["/bin/sh", "-c", line], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_cron_line_is_quiet_when_healthy_and_alerts_with_the_reason(tmp_path: Path,
                                                                        short_dir: Path) -> None:
    lbctl = shutil.which("lbctl", path=os.path.dirname(sys.executable))
    assert lbctl, "lbctl is not installed beside this python"
    server1 = RecordingBackend("server1").start()
    try:
        data = make_spec(free_port(), free_port(), [("server1", server1.port)],
                         inter="200ms", fall=1)
        with running_agent(short_dir, data, bundled_haproxy()) as agent:
            token_file = agent.state.root / "token"
            token_file.write_text(TOKEN + "\n")  # what `lbctl serve` writes on first start
            token_file.chmod(0o600)
            home = tmp_path / "cron-home"
            home.mkdir()
            alert = tmp_path / "alert.txt"
            report = tmp_path / "health.txt"
            line = cron_line()
            for placeholder in ("/var/lib/lbctl", "http://127.0.0.1:9900", "/usr/local/bin/lbctl",
                                "notify-ops", "/tmp/lbctl-health.txt"):
                assert placeholder in line, placeholder
            line = (line.replace("/var/lib/lbctl", str(agent.state.root))
                    .replace("http://127.0.0.1:9900", agent.url)
                    .replace("/usr/local/bin/lbctl", lbctl)
                    .replace("notify-ops", f"cat >{alert}")
                    .replace("/tmp/lbctl-health.txt", str(report)))

            wait_for(lambda: agent.api.get("/api/v1/health").json()["ok"], timeout=20)
            done = run_line(line, home)
            assert done.returncode == 0, (done.stdout, done.stderr, report.read_text())
            assert not alert.exists()
            assert "health: ok" in report.read_text()

            server1.stop()
            wait_for(lambda: not agent.api.get("/api/v1/health").json()["ok"], timeout=20)
            done = run_line(line, home)
            assert done.returncode == 0  # notify-ops ran, and succeeded
            text = alert.read_text()
            assert "health: NOT OK" in text
            assert "backend app has no usable server" in text, text
            assert list(home.iterdir()) == []  # nothing was looked for or left in cron's $HOME

            agent.state.root.joinpath("token").write_text("wrong-token\n")
            run_line(line, home)
            assert "AuthError" in alert.read_text() or "401" in alert.read_text(), alert.read_text()
    finally:
        server1.stop()
