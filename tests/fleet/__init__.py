"""Fleet tests: a real etcd, real ``lbctl serve --fleet`` agents and real HAProxies on 127.0.0.1."""
