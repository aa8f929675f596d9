"""The fleet: N agents sharing one desired state in etcd (``lbctl serve --fleet URL --node NAME``).

Without ``--fleet`` nothing here runs: single-node mode is the default.

- :mod:`lbctl.fleet.store`   the fleet's keys in etcd (etcd3gw, the v3 JSON gateway); the one
  place etcd errors become :class:`lbctl.errors.FleetUnavailable`
- :mod:`lbctl.fleet.verdict` one node's verdict on a proposal (its own render, its own
  ``haproxy -c``) and the :class:`lbctl.errors.FleetRefused` built from every node's
- :mod:`lbctl.fleet.member`  the node: the write coordinator (propose → verdicts → commit →
  apply), the background loop (apply committed versions, judge proposals, lease, report,
  split smooth clients' rates over the live nodes)
- :mod:`lbctl.fleet.report`  a node's report (``nodes/<name>``) and the membership it reads
  from the others' (the rate share, the peers)
- :mod:`lbctl.fleet.options` :class:`~lbctl.fleet.options.FleetOptions` (``serve``'s options)
- :mod:`lbctl.fleet.status`  the fleet as one node sees it (``GET /api/v1/fleet``)

See docs/fleet.md (users) for the consistency model and what happens on each fault.
"""
