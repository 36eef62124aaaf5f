"""The environment file's key reference, made from the model itself (``towergen schema --markdown``).

``docs/environment-file.md`` carries this table between two marker lines; a test keeps it equal
to what the model says, so the reference can never drift from what towergen accepts.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .model import Environment

BEGIN = "<!-- towergen reference: generated from towergen/spec/model.py by `towergen schema --markdown` -->"
END = "<!-- end of the generated reference -->"


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _section(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _section(arg)
            if found is not None:
                return found
    return None


def _type(annotation: Any) -> str:
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{json.dumps(a)}`" if isinstance(a, str) else f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        parts = [_type(a) for a in typing.get_args(annotation) if a is not type(None)]
        suffix = " or null" if type(None) in typing.get_args(annotation) else ""
        return " or ".join(parts) + suffix
    if origin is list:
        (item,) = typing.get_args(annotation)
        return f"list of {_type(item)}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"mapping of {_type(key)} to {_type(value)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return {str: "string", int: "whole number", bool: "true/false"}.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]  # towergen's factories take no argument
        if isinstance(value, BaseModel):
            return "(section)"
        return f"`{json.dumps(value)}`"
    if field.default is PydanticUndefined:
        return ""
    if isinstance(field.default, BaseModel):
        return "(section)"
    return f"`{json.dumps(field.default)}`"


def rows(model: type[BaseModel] = Environment, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key path, type, default, description) of every key, sections before their keys."""
    out = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append((path, _type(field.annotation), _default(field), field.description or ""))
        annotation = _strip(field.annotation)
        if typing.get_origin(annotation) is list:
            nested, inner_prefix = _section(typing.get_args(annotation)[0]), f"{path}[]."
        else:
            nested, inner_prefix = _section(annotation), f"{path}."
        if nested is not None:
            out.extend(rows(nested, inner_prefix))
    return out


def markdown() -> str:
    lines = [BEGIN, "", "| key | type | default | what it is |", "| --- | --- | --- | --- |"]
    for path, kind, default, description in rows():
        cell = description.replace("|", "\\|")
        lines.append(f"| `{path}` | {kind} | {default} | {cell} |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def splice(document: str) -> str:
    """``document`` with its generated block replaced by the current one."""
    start = document.index(BEGIN)
    end = document.index(END) + len(END) + 1
    return document[:start] + markdown() + document[end:]
