"""The fleet view: ``GET /api/v1/fleet`` (role ``viewer``).

On an agent started with ``lbctl serve --fleet URL --node NAME`` it answers every node of the
fleet as this node sees it (:func:`lbctl.fleet.status.fleet_status`): live or not (its etcd
lease), the version it runs, its last apply, its health, and a summary. An agent started
without ``--fleet`` answers 200 with ``mode: single`` and no nodes: it is a fleet of one, and
nothing is wrong with asking.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import answer, ok, problems
from lbctl.api.deps import ControllerDep
from lbctl.client.models import FleetStatus
from lbctl.fleet.member import FleetMember
from lbctl.fleet.status import fleet_status, single_node_status

__all__ = ["fleet_router"]

fleet_router = APIRouter(tags=["fleet"])


@fleet_router.get("/fleet", summary="Every node of the fleet: live, applied version, health",
                  operation_id="get_fleet", dependencies=[Depends(require_role("viewer"))],
                  responses={**ok(FleetStatus, "The fleet (mode single: no --fleet)"),
                             **problems()})
def get_fleet(controller: ControllerDep) -> JSONResponse:
    """:class:`FleetStatus`. With etcd away it answers this node's last view, with
    ``etcd.reachable`` false and ``summary.ok`` false (200 all the same: the view is the
    answer)."""
    member = controller.core.coordinator
    if isinstance(member, FleetMember):
        return answer(fleet_status(member))
    return answer(single_node_status(controller.version))
