"""lbctl: a load-balancer controller for an embedded HAProxy.

The agent renders ``haproxy.cfg`` from a declarative spec (:mod:`lbctl.spec`) through Jinja
templates (:mod:`lbctl.render`), validates the exact bytes with ``haproxy -c``, swaps the file
in atomically, reloads HAProxy in master-worker mode without dropping requests, and reports
backend health. See README.md and DESIGN.md.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
