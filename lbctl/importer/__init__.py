"""Document → spec: bring a parsed ``haproxy.cfg`` (:mod:`lbctl.config`) under lbctl without
losing a line. :mod:`~lbctl.importer.core` runs it, :mod:`~lbctl.importer.settings` reads
``global`` and ``defaults``, :mod:`~lbctl.importer.proxies` frontends (their settings
:mod:`~lbctl.importer.proxy_settings`, their routes :mod:`~lbctl.importer.routes`),
:mod:`~lbctl.importer.backends` backends and :mod:`~lbctl.importer.listens` listen sections;
:mod:`~lbctl.importer.memo` keeps the last import's proxies, so an unchanged section is not read
again."""

from __future__ import annotations

from lbctl.importer.core import HEADER_PREFIXES, Imported, import_config, import_spec

__all__ = ["HEADER_PREFIXES", "Imported", "import_config", "import_spec"]
