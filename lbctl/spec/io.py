"""Spec documents in and out: YAML or JSON text → :class:`Spec` (validated by
:func:`lbctl.spec.checks.validate_spec`), a spec → YAML or JSON, and the published JSON Schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml

from lbctl.errors import FieldError, FileUnreadable, SpecError
from lbctl.spec.checks import validate_spec
from lbctl.spec.models import Spec

__all__ = ["dump_spec", "json_schema", "load_spec", "parse_spec_text"]


def parse_spec_text(text: str, *, source: str = "<spec>") -> Spec:
    """Parse YAML or JSON text (JSON is YAML) into a validated :class:`Spec`.

    Raises :class:`SpecError` for unreadable text (with line and column) or invalid fields.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([FieldError("", f"{source}: not valid YAML/JSON{where}: {problem}")]) from None
    return validate_spec(data)


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file (YAML or JSON). Raises :class:`FileUnreadable` when
    the file cannot be read, :class:`SpecError` when it is not a valid spec."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileUnreadable(f"cannot read {p}: {exc.strerror}") from None
    except UnicodeError as exc:
        raise FileUnreadable(f"cannot read {p}: not UTF-8 text ({exc})") from None
    return parse_spec_text(text, source=str(p))


def dump_spec(spec: Spec, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """Serialise a spec as YAML (block style, field order kept) or indented JSON."""
    data = spec.to_data()
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec document, from the pydantic models."""
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "lbctl spec"
    return schema
