"""lbctl: a load-balancer controller for an embedded HAProxy.

The agent renders ``haproxy.cfg`` from a declarative spec (:mod:`lbctl.spec`) through Jinja
templates (:mod:`lbctl.render`), validates the exact bytes with ``haproxy -c``, swaps the file
in atomically, reloads HAProxy in master-worker mode without dropping requests, and reports
backend health. See README.md (users) and DESIGN.md (the design card).

Module map — the one place the package layout is written down. Imports point one way, from
the top of this list down (``cli`` on top, ``errors`` at the bottom); the import-linter
contracts in ``pyproject.toml`` enforce the exact layers:

- ``cli/``       the ``lbctl`` command: one module per command group; the one error → exit-code
  mapping and the table of every code (``cli/errors.py``)
- ``demo/``      ``lbctl demo``: the recording backend, the burst load, the pacing judge
- ``api/``       the agent's FastAPI app: routers, bearer auth and roles, the one error → HTTP
  mapping, metrics; the admin UI's session cookie (CSRF-guarded), its static files at ``/ui/``
  under a strict CSP, and offline ``/docs``
- ``fleet/``     ``lbctl serve --fleet``: N agents, one desired state in etcd (etcd3gw); propose →
  every live node's ``haproxy -c`` → commit by compare-revision → each node applies; leases,
  the fleet status
- ``client.py``  the httpx client of the agent's API (the CLI uses it): a problem+json answer
  is raised as the agent's own error class
- ``control/``   the one place that applies (lock → render → validate → write → reload →
  verify → record or roll back); runtime operations, recovery, supervision, health, plans
- ``state/``     the state dir: atomic writes, the live file, history (SQLite), journal and
  audit log, tokens, UI sessions
- ``haproxy/``   the HAProxy process: binary and features, ``haproxy -c``, start / reload /
  adopt, master CLI, stats socket; imports no spec or render code
- ``importer/``  a parsed ``haproxy.cfg`` document → a spec, without losing a line
- ``render/``    spec + capabilities → ``haproxy.cfg`` through ``templates/``; lbctl's own
  names; provenance (rendered line → spec field)
- ``spec/``      pydantic models of the desired state, scalar types, the ``Address`` value
  object, cross-field and verbatim-line checks, YAML/JSON io
- ``config/``    the lossless ``haproxy.cfg`` parser (pyparsing line grammar, document,
  directives, sections)
- ``errors.py``, ``units.py``, ``features.py``, ``paths.py``, ``reserved.py``  the one exception
  tree; time units; the one table of version-gated forms; bundled asset paths; the reserved
  ``lbctl`` name prefix

Top-level folders beside the package: ``templates/`` (the Jinja templates of ``haproxy.cfg``),
``haproxy/`` (HAProxy-side assets: the Lua pacing action, error files, example specs, the
container image) and ``ui/`` (the admin web UI's static files), all shipped in the wheel.
``lbctl/haproxy/`` (code) and ``haproxy/`` (assets) are unrelated.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
