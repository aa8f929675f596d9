"""The state dir: its files and atomic writes (:mod:`~lbctl.state.store`), the live file
(:mod:`~lbctl.state.livefile`), the config history in SQLite (:mod:`~lbctl.state.history`),
the writes journal and audit log (:mod:`~lbctl.state.journal`), the stored audit trail
(:mod:`~lbctl.state.audit`) and the API tokens (:mod:`~lbctl.state.tokens`)."""
