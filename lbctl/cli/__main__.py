"""``python -m lbctl.cli``: the ``lbctl`` command."""

from __future__ import annotations

from lbctl.cli.main import main

main()
