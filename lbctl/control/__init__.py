"""The one place that applies: the controller facade (:mod:`~lbctl.control.controller`) over
the configuration pipeline, runtime operations, process supervision and recovery, health,
plans and the source view."""
