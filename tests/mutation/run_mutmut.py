"""Mutation testing of lbctl's safety-critical modules with mutmut (a ``test`` extra).

Not part of the README's test command (``pytest`` collects ``test_*.py`` only, and this file
is not one). Run it from anywhere::

    python tests/mutation/run_mutmut.py                      # every module below
    python tests/mutation/run_mutmut.py --module spec.types  # one module
    python tests/mutation/run_mutmut.py --focus              # control.core: If-Match only
    python tests/mutation/run_mutmut.py --work /tmp/mut      # keep (and resume) the work dir

Per module, it copies the repository into a work dir (the live tree is never mutated, so it
can run while others edit), writes mutmut's ``[mutmut]`` config there (``setup.cfg``), runs
``mutmut run`` on that module's mutants with the tests that cover it (:data:`MODULES`), then
prints every survivor (its diff) and the mutation score: killed / (killed + survived), the
mutants without a covering test ("no tests") and timeouts counted apart. Exit 0 when it ran,
whatever the score; 1 when mutmut itself failed (e.g. a clean test run failed). One mutant
at a time by default (``--max-children``): the tests run real HAProxy on a shared machine.

The modules and why: the state dir's atomic writes (``lbctl/state/store.py``), the apply
pipeline (``lbctl/control/configuration.py``), ``If-Match`` handling under the write lock
(``lbctl/control/core.py``), verified pids before any signal (``lbctl/haproxy/pids.py``) and the
spec's string validators (``lbctl/spec/types.py``). Results of the last run with their
explanations: ``tests/mutation/README.md``.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: module (dotted, under lbctl) → (the test files that cover it, a pytest ``-k`` filter or "").
#: The HAProxy-heavy selections run on the bundled 2.8 only (``not haproxy2.6``): the 2.6 runs
#: of the same tests exercise the same lines of these modules.
MODULES: dict[str, tuple[list[str], str]] = {
    "state.store": (["tests/test_state_store.py", "tests/test_atomic_swap.py", "tests/test_tokens.py",
                     "tests/test_controller.py", "tests/test_history_fault.py"], "not haproxy2.6"),
    "control.configuration": (["tests/test_safe_apply.py", "tests/test_history_fault.py",
                               "tests/test_controller.py", "tests/test_readme_promises.py"],
                              "not haproxy2.6 and not string_field and not tab_and_cr"),
    "control.core": (["tests/test_readme_promises.py", "tests/test_safe_apply.py", "tests/test_controller.py"],
                     "not haproxy2.6 and (waited or not readme_promises)"),
    "haproxy.pids": (["tests/test_pids.py", "tests/test_haproxy_process.py"], ""),
    "spec.types": (["tests/test_spec_types.py", "tests/test_spec.py", "tests/test_spec_lines.py",
                    "tests/test_readme_promises.py"],
                   "string_field or tab_and_cr or not readme_promises"),
}

#: Mutants to run per module when not all of them (``--focus``): for ``control.core``, the
#: If-Match checks under the write lock.
FOCUS: dict[str, list[str]] = {
    "control.core": ["lbctl.control.core.x\u01c1Core\u01c1require_if_match__mutmut_*",
                     "lbctl.control.core.x\u01c1Core\u01c1lock_for__mutmut_*"],
}

#: What the tests need beside ``lbctl/`` and ``tests/`` (templates, assets, docs some tests read).
ALSO_COPY = ["templates", "haproxy", "README.md", "docker-compose.yml"]

def _copy_tree(work: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "mutants", ".mypy_cache",
                                    ".ruff_cache", ".pytest_cache", "*.egg-info")
    for name in ["lbctl", "tests", *ALSO_COPY, "pyproject.toml"]:
        src, dst = ROOT / name, work / name
        if dst.exists():
            continue
        if src.is_dir():
            shutil.copytree(src, dst, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dst)


def _write_config(work: Path, module: str) -> None:
    tests, keyword = MODULES[module]
    args = ["-p", "no:cacheprovider", *(["-k", keyword] if keyword else [])]
    lines = ["[mutmut]", "source_paths = lbctl",
             f"only_mutate = lbctl/{module.replace('.', '/')}.py",
             "also_copy =", *(f"    {p}" for p in ALSO_COPY),
             "pytest_add_cli_args_test_selection =", *(f"    {t}" for t in tests),
             "pytest_add_cli_args =", *(f"    {a}" for a in args),
             "timeout_multiplier = 5.0", "timeout_constant = 30.0", ""]
    (work / "setup.cfg").write_text("\n".join(lines), encoding="utf-8")


def _mutmut(work: Path, *args: str, minutes: float | None = None) -> subprocess.CompletedProcess[str]:
    """``mutmut ARGS`` in ``work``; after ``minutes`` its whole process group (it forks one
    child per mutant) is killed, and the mutants not run yet stay "not checked"."""
    exe = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CI", None)  # the skip policy of tests/conftest.py is for the suite, not for mutants
    proc = subprocess.Popen([str(exe), *args], cwd=work, env=env, text=True, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=minutes * 60 if minutes else None)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this call started, by its id
        out, err = proc.communicate()
        out += f"\n(stopped after {minutes:g} min: the mutants not run yet are 'not checked')"
        return subprocess.CompletedProcess(proc.args, 0, out, err)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def results(work: Path) -> dict[str, dict[str, list[str]]]:
    """``{module: {status: [mutant names]}}`` from ``mutmut results --all true``."""
    out: dict[str, dict[str, list[str]]] = {}
    proc = _mutmut(work, "results", "--all", "true")
    for line in proc.stdout.splitlines():
        m = re.match(r"(lbctl(?:\.\w+)*?)\.x[_\u01c1].*__mutmut_\d+: (.+)$", line.strip())
        if m:
            name = line.strip().rsplit(": ", 1)[0]
            module = m.group(1).removeprefix("lbctl.")
            out.setdefault(module, {}).setdefault(m.group(2), []).append(name)
    return out


def report(work: Path, by_module: dict[str, dict[str, list[str]]], *, survivors: bool = True,
           show_diffs: bool = True) -> None:
    """Print the survivors (with their diffs, from ``work``) and the score table."""
    for module in sorted(by_module):
        for name in by_module[module].get("survived", []) if survivors else []:
            print(f"\n## survived: {name}")
            if show_diffs:
                print(_mutmut(work, "show", name).stdout.rstrip())
    print("\n| module | mutants | killed | survived | no tests | timeout | other | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for module in sorted(by_module):
        counts = {s: len(v) for s, v in by_module[module].items()}
        killed, survived = counts.get("killed", 0), counts.get("survived", 0)
        other = sum(n for s, n in counts.items() if s not in ("killed", "survived", "no tests", "timeout"))
        total = sum(counts.values())
        score = f"{100 * killed / (killed + survived):.1f} %" if killed + survived else "-"
        print(f"| lbctl/{module.replace('.', '/')}.py | {total} | {killed} | {survived} | "
              f"{counts.get('no tests', 0)} | {counts.get('timeout', 0)} | {other} | {score} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES),
                        help="a module to mutate (repeatable; default: all)")
    parser.add_argument("--work", type=Path,
                        help="work dir to use and keep, one subdir per module (default: a temp dir, removed)")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutants (default 1)")
    parser.add_argument("--focus", action="store_true",
                        help="only the mutants of FOCUS for the modules that have one (control.core: If-Match)")
    parser.add_argument("--minutes", type=float, help="stop each module's run after this many minutes")
    parser.add_argument("--no-diffs", action="store_true", help="list survivors without their diffs")
    args = parser.parse_args(argv)
    modules = args.module or sorted(MODULES)
    base = args.work or Path(tempfile.mkdtemp(prefix="lbctl-mut-"))
    by_module: dict[str, dict[str, list[str]]] = {}
    failed = False
    try:
        for module in modules:
            work = base / module
            work.mkdir(parents=True, exist_ok=True)
            _copy_tree(work)
            _write_config(work, module)
            names = FOCUS.get(module, []) if args.focus else []
            names = names or [f"lbctl.{module}.*"]
            print(f"== mutmut run in {work}: {module}", flush=True)
            proc = _mutmut(work, "run", "--max-children", str(args.max_children), *names,
                           minutes=args.minutes)
            print("\n".join(proc.stdout.strip().splitlines()[-3:]), flush=True)
            if proc.returncode != 0:
                print("\n".join(proc.stdout.strip().splitlines()[-60:]), file=sys.stderr)
                print(proc.stderr[-4000:], file=sys.stderr)
                failed = True
                continue
            found = results(work).get(module, {})
            if names != [f"lbctl.{module}.*"]:
                found = {st: [n for n in ns if any(fnmatch.fnmatch(n, pat) for pat in names)]
                         for st, ns in found.items()}
            by_module[module] = found
            report(work, {module: found}, show_diffs=not args.no_diffs)
        print("\n== mutation score per module")
        report(base, by_module, survivors=False)
        return 1 if failed else 0
    finally:
        if args.work is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
