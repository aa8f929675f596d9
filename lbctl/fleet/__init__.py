"""The fleet: N agents sharing one desired state in etcd (``lbctl serve --fleet URL --node NAME``).

Without ``--fleet`` nothing here runs: single-node mode is the default.
"""
