"""The chained throttle's UNIX sockets where HAProxy's workers can reach them (issue 11).

A worker that dropped privileges (``user``/``group``, the agent running as root) cannot enter
the agent's 0700 state dir, so the throttle's socket file lives in
:func:`lbctl.haproxy.privileges.socket_dir` (``root:<group>`` 0750), is owned by the workers'
user with mode 600, and is a socket root of the host policy. A file, not ``abns@``: 1.5's
``-sf`` cannot rebind an abstract socket and 1.8.0's ``-x`` does not pass one on.
"""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from lbctl.features import Capabilities, HAProxyVersion
from lbctl.haproxy import privileges
from lbctl.render import RenderContext, render
from lbctl.spec import validate_spec
from lbctl.spec.policy import HostPolicy

SPEC = {
    "frontends": [{"name": "web", "bind": ["127.0.0.1:8080"], "default_backend": "app",
                   "clients": [{"name": "client1", "path_prefix": "/client1", "rate": 10,
                                "burst": 100, "mode": "smooth"}]}],
    "backends": [{"name": "app", "servers": [{"name": "s1", "address": "127.0.0.1",
                                              "port": 9000}]}],
}


def _caps(version: str, lua: bool = False) -> Capabilities:
    return Capabilities.for_target(HAProxyVersion.parse(version), lua=lua)


@pytest.mark.parametrize("version", ["1.5.0", "1.8.0", "2.0.0", "2.8.0"])
def test_throttle_socket_is_a_file_in_the_socket_dir(version: str, tmp_path: Path) -> None:
    sockets = privileges.socket_dir(tmp_path)
    ctx = RenderContext(tmp_path, user="nobody", group="nogroup", socket_dir=sockets)
    text = render(validate_spec(SPEC), _caps(version), ctx)
    path = sockets / "pace-0-0.sock"
    assert f"    bind unix@{path} backlog 117 user nobody mode 600\n" in text
    assert f"    server throttle unix@{path} maxconn 2\n" in text
    assert "abns@" not in text
    # Not root: the run dir, no ownership options.
    plain = render(validate_spec(SPEC), _caps(version), RenderContext(tmp_path))
    assert f"    bind unix@{tmp_path / 'pace-0-0.sock'} backlog 117\n" in plain


def test_socket_dir_is_per_run_dir_and_short(tmp_path: Path) -> None:
    one, two = privileges.socket_dir(tmp_path / "a"), privileges.socket_dir(tmp_path / "b")
    assert one != two and one.parent == two.parent == privileges.SOCKET_ROOT
    assert len(str(one / "pace-99-99.sock")) < 100  # sun_path is 108 bytes


def test_policy_allows_the_socket_dir_only_when_given(tmp_path: Path) -> None:
    sockets = privileges.socket_dir(tmp_path)
    with_dir = HostPolicy.for_state(tmp_path, tmp_path, socket_dir=sockets)
    assert str(sockets) in with_dir.describe()["socket_roots"]
    assert str(sockets) not in HostPolicy.for_state(tmp_path, tmp_path).describe()["socket_roots"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")
def test_prepare_socket_dir_makes_it_root_group_0750(tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    target = tmp_path / "run" / "abc"
    privileges.prepare_socket_dir(target, group)
    info = target.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o750 and info.st_uid == 0
    assert info.st_gid == grp.getgrnam(group).gr_gid
    target.chmod(0o777)
    privileges.prepare_socket_dir(target, group)  # idempotent, and repairs the mode
    assert stat.S_IMODE(target.lstat().st_mode) == 0o750
    link = tmp_path / "run" / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(OSError, match="not a directory owned by root"):
        privileges.prepare_socket_dir(link, group)


@pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop needs root")
def test_remove_socket_dir_takes_sockets_only(tmp_path: Path) -> None:
    import socket as sockets

    target = tmp_path / "run" / "abc"
    privileges.prepare_socket_dir(target, grp.getgrgid(os.getgid()).gr_name)
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_DGRAM) as s:
        s.bind(str(target / "log.sock"))
    privileges.remove_socket_dir(target)
    assert not target.exists()
    privileges.prepare_socket_dir(target, grp.getgrgid(os.getgid()).gr_name)
    (target / "notes.txt").write_text("not ours")
    privileges.remove_socket_dir(target)  # something else in it: the directory stays
    assert (target / "notes.txt").read_text() == "not ours"
    link = tmp_path / "run" / "link"
    link.symlink_to(target)
    privileges.remove_socket_dir(link)  # a symlink is never followed
    assert link.is_symlink() and (target / "notes.txt").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop needs root")
def test_the_agent_removes_its_socket_dir_when_it_stops_haproxy(short_dir: Path,
                                                                backend: object) -> None:
    from tests.agent_helpers import free_port, running_agent

    data = {"global": {"peers_port": free_port()},
            "frontends": [{"name": "web", "bind": [f"127.0.0.1:{free_port()}"],
                           "default_backend": "app"}],
            "backends": [{"name": "app", "servers": [
                {"name": "s1", "address": "127.0.0.1", "port": backend.port,  # type: ignore[attr-defined]
                 "check": False}]}]}
    with running_agent(short_dir / "state", data, None) as agent:
        sockets = privileges.socket_dir(agent.state.run_dir)
        assert agent.controller.core.identity is not None
        assert (sockets / "log.sock").exists()  # the workers log there
    assert not sockets.exists()
