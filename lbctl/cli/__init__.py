"""The ``lbctl`` command: :mod:`~lbctl.cli.main` (the app and the one error → exit-code
mapping), :mod:`~lbctl.cli.options` (shared options and output), and one module per command
group."""
