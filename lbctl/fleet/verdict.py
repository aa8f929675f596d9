"""One node's verdict on a proposed version, and the refusal built from every node's verdicts.

A node judges a proposal by rendering the proposed spec for its own binary and running
``haproxy -c`` on those exact bytes (:meth:`lbctl.control.controller.Controller.validate`):
the same check its own apply would make, so a version every live node said yes to renders
and validates on each of them. The verdict is JSON (``{"ok", "reason", "diagnostics",
"haproxy"}``) because it travels through etcd (:mod:`lbctl.fleet.store`).
"""

from __future__ import annotations

from typing import Any

from lbctl.control.controller import Controller
from lbctl.errors import ConfigRejected, Diagnostic, FleetRefused, LbctlError
from lbctl.spec import validate_spec

__all__ = ["judge", "refusal"]


def judge(controller: Controller, spec_data: dict[str, Any]) -> dict[str, Any]:
    """``controller``'s verdict on ``spec_data`` (a spec document): ``ok`` true when it is a
    valid spec that renders for this node's binary and passes ``haproxy -c`` there; else
    ``reason`` (one line) and ``diagnostics`` (``haproxy -c``'s lines as
    :meth:`Diagnostic.as_dict`). ``haproxy``: this node's binary version. Never raises."""
    binary = controller.core.binary
    version = str(binary.version) if binary is not None else None
    try:
        result = controller.validate(validate_spec(spec_data))
    except LbctlError as exc:
        found = exc.diagnostics if isinstance(exc, ConfigRejected) else []
        return {"ok": False, "reason": f"{type(exc).__name__}: {exc}", "haproxy": version,
                "diagnostics": [d.as_dict() for d in found]}
    diagnostics = [d.as_dict() for d in result.diagnostics]
    if result.ok:
        return {"ok": True, "reason": "", "haproxy": version, "diagnostics": diagnostics}
    alerts = [d for d in result.diagnostics if d.severity == "alert"] or result.diagnostics
    first = alerts[0].message if alerts else "no diagnostic"
    return {"ok": False, "haproxy": version, "diagnostics": diagnostics,
            "reason": f"haproxy -c (HAProxy {version}) rejected it: {first}"}


def refusal(verdicts: dict[str, dict[str, Any]], missing: list[str],
            deadline_s: float) -> FleetRefused | None:
    """The :class:`FleetRefused` for ``verdicts`` (by node) and the live nodes ``missing`` a
    verdict after ``deadline_s`` seconds; ``None`` when every node said yes."""
    nodes = {name: str(v.get("reason") or "refused") for name, v in verdicts.items()
             if not v.get("ok")}
    nodes.update({name: f"gave no verdict within {deadline_s:g} s" for name in missing})
    if not nodes:
        return None
    diagnostics = [
        Diagnostic(str(d.get("severity", "alert")), f"node {name}: {d.get('message', '')}",
                   d.get("line"), d.get("text"), d.get("field"))
        for name in sorted(nodes) for d in verdicts.get(name, {}).get("diagnostics") or []
        if isinstance(d, dict)
    ]
    return FleetRefused(diagnostics, "", nodes)
