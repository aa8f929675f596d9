"""The environment every ``haproxy`` lbctl runs gets: a minimal one, never the agent's.

HAProxy's configuration reads environment variables (``${NAME}`` in any argument, the
``env()`` sample fetch, configuration.txt §2.3 and §7.3.2), and a worker's
``/proc/<pid>/environ`` shows them to anyone who can read it. The agent's environment holds
secrets (``LBCTL_TOKEN``, the admin token, and whatever the host put there), so ``haproxy
-c`` (:mod:`lbctl.haproxy.validate`) and the master (:mod:`lbctl.haproxy.process`) are started
with :func:`minimal_env` only: ``PATH``, ``LANG``/``LC_ALL`` = ``C`` and ``TZ`` when it is set.
Nothing ``LBCTL_*`` ever reaches HAProxy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["DEFAULT_PATH", "minimal_env"]

#: ``PATH`` when the agent has none.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def minimal_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{"PATH", "LANG": "C", "LC_ALL": "C"[, "TZ"]}`` from ``environ`` (``os.environ``)."""
    source = os.environ if environ is None else environ
    env = {"PATH": source.get("PATH") or DEFAULT_PATH, "LANG": "C", "LC_ALL": "C"}
    if source.get("TZ"):
        env["TZ"] = source["TZ"]
    return env
