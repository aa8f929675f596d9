"""docker-compose.yml, haproxy/Dockerfile and haproxy/entrypoint.sh, checked by reading.

No Docker engine runs here, so these tests hold the container files to what they can be
checked against without one: the services and where they publish ports (the host's loopback
only), that every command runs a real entry point (an ``lbctl`` subcommand with the options
used, a ``python -m`` module with a ``__main__`` guard, Python code whose lbctl imports
exist, shell scripts that parse), that the build context and every ``COPY`` source exist, and
that the mounted spec validates and fits the compose network (its frontend port is the one
published, its server names are compose services), and that client2 talks HTTPS verifying the
CA the lbctl service makes. What the entrypoint does at first start is run, not read, in
tests/test_compose_entrypoint.py.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import ipaddress
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from typer.main import get_command

from lbctl.cli.main import app
from lbctl.spec import Spec, load_spec

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = {"lbctl", "backend", "client1", "client2"}
LOOPBACK_HOST_IPS = {"127.0.0.1", "::1", "[::1]"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services ``docker compose up`` starts (a profile's: tests/fleet/test_compose_fleet.py)."""
    return {name: svc for name, svc in compose["services"].items() if not svc.get("profiles")}


@pytest.fixture(scope="module")
def dockerfile(services: dict[str, dict[str, Any]]) -> Path:
    build = services["lbctl"]["build"]
    return COMPOSE_FILE.parent / build["context"] / build["dockerfile"]


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` per Dockerfile instruction, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def _entrypoint_script(dockerfile: Path) -> Path:
    """The repository file the image installs as its ENTRYPOINT."""
    instr = _instructions(dockerfile)
    entry = [yaml.safe_load(args) for word, args in instr if word == "ENTRYPOINT"]
    assert len(entry) == 1 and isinstance(entry[0], list), "one exec-form ENTRYPOINT"
    name = entry[0][0]
    run = " ".join(args for word, args in instr if word == "RUN")
    m = re.search(r"install -m 0?755 /src/(\S+) /usr/local/bin/" + re.escape(name) + r"\b", run)
    assert m, f"the Dockerfile installs {name} from the repository"
    return ROOT / m.group(1)


def _cli_commands() -> dict[str, Any]:
    """The ``lbctl`` subcommands by name (typer's click command objects)."""
    commands = getattr(get_command(app), "commands", None)
    assert isinstance(commands, dict), "lbctl is a command group"
    return dict(commands)


def _check_lbctl_call(words: list[str], where: str) -> None:
    """``words`` after ``lbctl``: the subcommand (``cert put``: down a group) exists and knows
    every ``--option`` used."""
    commands = _cli_commands()
    assert words, f"{where}: bare lbctl"
    sub = words[0]
    assert sub in commands, f"{where}: `lbctl {sub}` is not a command ({sorted(commands)})"
    command = commands[sub]
    while isinstance(group := getattr(command, "commands", None), dict):
        words = words[1:]
        assert words and words[0] in group, f"{where}: `lbctl {sub} {words[:1]}` is not a command"
        sub, command = f"{sub} {words[0]}", group[words[0]]
    known = {opt for p in command.params for opt in p.opts}
    for word in words[1:]:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in known, f"{where}: `lbctl {sub}` has no {word}"


def _lbctl_calls(script: str) -> list[list[str]]:
    """Every ``lbctl <subcommand> ...`` invocation in a shell script (comments dropped)."""
    calls = []
    for line in script.splitlines():
        code = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        for m in re.finditer(r"(?:^|[;&|(]\s*|\bif\s+!?\s*|\bthen\s+)lbctl\s+([^;&|]*)", code):
            calls.append(shlex.split(m.group(1).strip(), posix=True))
    return calls


def _argv(service: dict[str, Any], image_entrypoint: list[str]) -> list[str]:
    entry = service.get("entrypoint", image_entrypoint)
    command = service.get("command", [])
    if isinstance(entry, str):
        entry = shlex.split(entry)
    if isinstance(command, str):
        command = shlex.split(command)
    return [str(x) for x in [*entry, *command]]


def _compose_unescape(text: str) -> str:
    """What the container receives: compose turns ``$$`` into ``$``."""
    return text.replace("$$", "$")


def _mounted_spec(service: dict[str, Any], target: str) -> Path:
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if rest.split(":", 1)[0] == target:
            return COMPOSE_FILE.parent / source
    raise AssertionError(f"nothing is mounted at {target}")


def _entrypoint_default(script: str, variable: str) -> str:
    m = re.search(r'="\$\{' + variable + r":-([^}]*)\}\"", script)
    assert m, f"the entrypoint reads ${variable}"
    return m.group(1)


# -- services and ports ----------------------------------------------------------------------
def test_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES


def _published(port: Any) -> tuple[str, int]:
    """``(host IP, container port)`` of a ``ports`` entry, short or long syntax."""
    if isinstance(port, dict):
        return str(port.get("host_ip", "")), int(port["target"])
    parts = str(port).split("/", 1)[0].rsplit(":", 2)
    return (parts[0], int(parts[2])) if len(parts) == 3 else ("", int(parts[-1]))


def test_ports_are_published_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    published: dict[str, set[int]] = {}
    for name, svc in services.items():
        for port in svc.get("ports", []):
            host_ip, target = _published(port)
            assert host_ip in LOOPBACK_HOST_IPS, (
                f"{name} publishes {port!r} beyond the host's loopback"
            )
            published.setdefault(name, set()).add(target)
    assert published == {"lbctl": {9900, 11223, 11443}}


def test_mounted_spec_validates_and_fits_the_network(
    services: dict[str, dict[str, Any]], dockerfile: Path
) -> None:
    script = _entrypoint_script(dockerfile).read_text(encoding="utf-8")
    target = _entrypoint_default(script, "LBCTL_SPEC_FILE")
    spec: Spec = load_spec(_mounted_spec(services["lbctl"], target))
    published = {_published(p)[1] for p in services["lbctl"]["ports"]}
    for fe in spec.frontends:
        for bind in fe.bind:
            assert bind.address in ("*", "0.0.0.0", "::"), (
                f"{fe.name} binds {bind}: other containers could not reach it"
            )
            assert bind.port in published, f"{fe.name}'s port {bind.port} is not published"
    for be in spec.backends:
        for server in be.servers:
            try:
                ipaddress.ip_address(server.address)
                continue
            except ValueError:
                pass
            assert server.address in services, f"server {server.name}: no service {server.address}"
            argv = " ".join(_argv(services[server.address], []))
            exposed = {str(p) for p in services[server.address].get("expose", [])}
            assert str(server.port) in exposed and str(server.port) in argv, (
                f"service {server.address} does not listen on {server.port}"
            )
    assert spec.frontends and any(c.name == "client1" for fe in spec.frontends for c in fe.clients)


def test_state_volume_and_healthcheck_match_the_image(
    services: dict[str, dict[str, Any]], dockerfile: Path
) -> None:
    env = " ".join(args for word, args in _instructions(dockerfile) if word == "ENV")
    state_dir = re.search(r"LBCTL_STATE_DIR=(\S+)", env)
    assert state_dir
    mounts = [str(v).split(":")[1] for v in services["lbctl"]["volumes"]]
    assert state_dir.group(1) in mounts
    script = _entrypoint_script(dockerfile).read_text(encoding="utf-8")
    ready = _entrypoint_default(script, "LBCTL_READY_FILE")
    check = " ".join(services["lbctl"]["healthcheck"]["test"])
    assert ready in check
    assert f"{state_dir.group(1)}/tls/cert.pem" in check
    assert "https://127.0.0.1:9900/healthz" in check
    assert re.search(r"LBCTL_LISTEN=0\.0\.0\.0:9900\b", env)


# -- build -----------------------------------------------------------------------------------
def test_every_service_uses_the_built_image(services: dict[str, dict[str, Any]]) -> None:
    images = {svc.get("image") for svc in services.values()}
    assert len(images) == 1
    for name, svc in services.items():
        build = svc.get("build")
        assert build, f"{name} has no build section"
        context = COMPOSE_FILE.parent / build["context"]
        assert context.is_dir()
        assert (context / build["dockerfile"]).is_file()


def test_dockerfile_base_and_copy_sources(dockerfile: Path) -> None:
    instr = _instructions(dockerfile)
    assert instr[0][0] == "FROM" and instr[0][1].startswith("python:3.11-slim")
    for word, args in instr:
        if word == "COPY":
            *sources, _dest = args.split()
            for src in sources:
                assert (ROOT / src).exists(), f"COPY {src}: no such file in the build context"
    run = " ".join(args for word, args in instr if word == "RUN")
    assert "pip install --no-cache-dir '/src[fleet]'" in run  # with etcd3gw: the fleet profile
    assert [w for w, _ in instr].count("USER") == 1


def test_entrypoint_script_is_executable_and_calls_real_commands(dockerfile: Path) -> None:
    path = _entrypoint_script(dockerfile)
    assert path.is_file()
    assert path.stat().st_mode & 0o111, f"{path} is not executable"
    script = path.read_text(encoding="utf-8")
    assert script.startswith("#!/bin/sh\n")
    calls = _lbctl_calls(script)
    subs = {c[0] for c in calls}
    assert {"serve", "apply"} <= subs, calls
    for call in calls:
        _check_lbctl_call(call, str(path.relative_to(ROOT)))
    serve = next(c for c in calls if c[0] == "serve")
    assert {"--listen", "--tls-cert", "--tls-key"} <= set(serve)
    subprocess.run(["sh", "-n", str(path)], check=True, timeout=10)


# -- commands --------------------------------------------------------------------------------
def _check_python_module(module: str, where: str) -> None:
    found = importlib.util.find_spec(module)
    assert found is not None, f"{where}: no module {module}"
    if found.submodule_search_locations:
        main = importlib.util.find_spec(f"{module}.__main__")
        assert main is not None, f"{where}: package {module} has no __main__"
        return
    assert found.origin and found.origin.endswith(".py")
    source = Path(found.origin).read_text(encoding="utf-8")
    assert re.search(r"""^if __name__ == ["']__main__["']:""", source, re.M), (
        f"{where}: {module} has no `if __name__ == \"__main__\":` guard"
    )


def _check_python_code(code: str, where: str) -> None:
    tree = ast.parse(code, filename=where)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lbctl"):
            mod = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(mod, alias.name), f"{where}: {node.module} has no {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert importlib.util.find_spec(alias.name) is not None, f"{where}: {alias.name}"


def test_every_command_points_at_a_real_entry_point(
    services: dict[str, dict[str, Any]], dockerfile: Path
) -> None:
    image_entry = next(
        yaml.safe_load(args) for word, args in _instructions(dockerfile) if word == "ENTRYPOINT"
    )
    for name, svc in services.items():
        for key in ("command", "entrypoint"):
            raw = svc.get(key)
            text = yaml.safe_dump(raw) if raw is not None else ""
            assert "$" not in text.replace("$$", ""), (
                f"{name}.{key}: a single $ would be interpolated by compose; write $$"
            )
        argv = [_compose_unescape(a) for a in _argv(svc, image_entry)]
        where = f"service {name}"
        if argv[0] == image_entry[0]:
            _check_lbctl_call(["serve", *argv[1:]], where)  # extra arguments go to serve
        elif argv[0] == "lbctl":
            _check_lbctl_call(argv[1:], where)
        elif argv[:2] == ["python", "-m"]:
            _check_python_module(argv[2], where)
        elif argv[:2] == ["python", "-c"]:
            _check_python_code(argv[2], where)
        elif argv[:2] == ["/bin/sh", "-c"]:
            subprocess.run(["sh", "-n", "-c", argv[2]], check=True, timeout=10)
            for call in _lbctl_calls(argv[2]):
                _check_lbctl_call(call, where)
        else:
            raise AssertionError(f"{where}: unrecognised command {argv!r}")


def test_clients_target_the_spec(services: dict[str, dict[str, Any]], dockerfile: Path) -> None:
    script = _entrypoint_script(dockerfile).read_text(encoding="utf-8")
    spec = load_spec(_mounted_spec(services["lbctl"], _entrypoint_default(script, "LBCTL_SPEC_FILE")))
    ports = {b.port for fe in spec.frontends for b in fe.bind}
    limited = {c.name: c.path_prefix for fe in spec.frontends for c in fe.clients}
    for name in ("client1", "client2"):
        svc = services[name]
        assert svc["depends_on"]["lbctl"]["condition"] == "service_healthy"
        url = urlsplit(svc["environment"]["TARGET"])
        assert url.hostname == "lbctl" and url.port in ports, url
        assert url.path == f"/{name}"
        assert "$TARGET" in _compose_unescape(svc["command"][0])
    assert limited["client1"] == "/client1"
    assert "client2" not in limited


def test_compose_config_parses_when_a_compose_tool_is_installed() -> None:
    """``docker-compose config`` validates the file against the compose schema (no engine)."""
    if shutil.which("docker-compose"):
        cmd = ["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"]
    else:
        pytest.skip("docker-compose is not installed")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def _volume_target(service: dict[str, Any], volume: str) -> tuple[str, bool]:
    """``(container path, read-only?)`` where ``service`` mounts the named ``volume``."""
    for entry in service.get("volumes", []):
        source, _, rest = str(entry).partition(":")
        if source == volume:
            target, _, mode = rest.partition(":")
            return target, mode == "ro"
    raise AssertionError(f"volume {volume} is not mounted")


def test_client2_talks_https_verifying_the_site_ca(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], dockerfile: Path
) -> None:
    script = _entrypoint_script(dockerfile).read_text(encoding="utf-8")
    lbctl = services["lbctl"]
    spec = load_spec(_mounted_spec(lbctl, _entrypoint_default(script, "LBCTL_SPEC_FILE")))
    tls_ports = {b.port: b.tls.certificates for fe in spec.frontends for b in fe.bind if b.tls}
    plain_ports = {b.port for fe in spec.frontends for b in fe.bind if not b.tls}
    client2 = services["client2"]
    url = urlsplit(client2["environment"]["TARGET"])
    assert url.scheme == "https" and url.port in tls_ports, url
    # The certificate the TLS bind serves is the one the entrypoint makes on first start.
    assert lbctl["environment"]["LBCTL_SITE_CERT"] in tls_ports[url.port]
    assert urlsplit(services["client1"]["environment"]["TARGET"]).port in plain_ports
    # client2 verifies HAProxy with the CA file of a volume the lbctl service writes its CA to
    # (read-only on client2's side), and never turns verification off.
    command = _compose_unescape(client2["command"][0])
    words = shlex.split(command.split("curl", 1)[1])
    assert "--cacert" in words and words[words.index("--cacert") + 1] == "$CA_FILE", command
    assert not {"-k", "--insecure"} & set(words), command
    ca_file = Path(client2["environment"]["CA_FILE"])
    (volume,) = [str(v).split(":", 1)[0] for v in client2["volumes"]]
    assert volume in compose["volumes"]
    target, read_only = _volume_target(client2, volume)
    assert read_only and ca_file.parent == Path(target) and ca_file.name == "ca.pem"
    site_ca_dir = _entrypoint_default(script, "LBCTL_SITE_CA_DIR")
    assert _volume_target(lbctl, volume) == (site_ca_dir, False)
    # The image installs the CA script the entrypoint calls, and owns the CA volume's mount
    # point (a fresh named volume takes its ownership).
    run = " ".join(args for word, args in _instructions(dockerfile) if word == "RUN")
    assert "install -m 0755 /src/haproxy/site-tls.sh /usr/local/bin/lbctl-site-tls" in run
    assert re.search(r"lbctl-site-tls \"\$work\"", script)
    assert re.search(r"chown lbctl:lbctl [^&]*" + re.escape(site_ca_dir) + r"\b", run)
    subprocess.run(["sh", "-n", str(ROOT / "haproxy" / "site-tls.sh")], check=True, timeout=10)

