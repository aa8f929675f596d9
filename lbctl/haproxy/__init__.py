"""The HAProxy side: find the binary and its features (:mod:`~lbctl.haproxy.binary`), ``haproxy -c``
(:mod:`~lbctl.haproxy.validate`), start / reload / stop / adopt (:mod:`~lbctl.haproxy.process`), the
master CLI, the stats socket (:mod:`~lbctl.haproxy.runtime`). Knows no spec and no rendering."""
