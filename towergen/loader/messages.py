"""pydantic's validation errors turned into problems a user can act on: located where the key or
value was written, in the words of the file ("expected X, found Y"), with did-you-mean hints."""

from __future__ import annotations

import datetime as _dt
import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel

from ..errors import Problem
from ..spec.describe import describe
from ..spec.model import EXTENDS, Environment
from ..spec.reader import Loc, Mark, format_path
from .source import Source

# --- the model's shape, for messages --------------------------------------------------------------


def _section_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``Fsx | None`` or a list of models."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _section_of(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _section_of(arg)
            if found:
                return found
    return None


def _field_at(loc: Loc) -> tuple[type[BaseModel], str] | None:
    """(model, field name) for ``loc``, skipping list indexes; None when it is not a model field."""
    model: type[BaseModel] = Environment
    for i, part in enumerate(loc):
        if isinstance(part, int):
            continue
        if part not in model.model_fields:
            return None
        info = model.model_fields[part]
        if i == len(loc) - 1:
            return model, part
        nested = _section_of(info.annotation)
        if nested is None:
            return None
        model = nested
    return None


def _model_at(loc: Loc) -> type[BaseModel] | None:
    while loc and isinstance(loc[-1], int):
        loc = loc[:-1]  # an item of a list of mappings: the item's model
    if not loc:
        return Environment
    found = _field_at(loc)
    if not found:
        return None
    model, name = found
    return _section_of(model.model_fields[name].annotation)


def _bounds(loc: Loc) -> tuple[Any, Any]:
    found = _field_at(loc)
    lo = hi = None
    if found:
        model, name = found
        annotations = [model.model_fields[name].annotation]
        metadata = list(model.model_fields[name].metadata)
        while annotations:
            ann = annotations.pop()
            if typing.get_origin(ann) is typing.Annotated:
                args = typing.get_args(ann)
                metadata.extend(args[1:])
                annotations.append(args[0])
            elif typing.get_origin(ann) in (typing.Union, types.UnionType):
                annotations.extend(typing.get_args(ann))
        for meta in metadata:
            for item in getattr(meta, "metadata", [meta]):
                lo = getattr(item, "ge", lo) if getattr(item, "ge", None) is not None else lo
                hi = getattr(item, "le", hi) if getattr(item, "le", None) is not None else hi
    return lo, hi


def _description(loc: Loc) -> str | None:
    found = _field_at(loc)
    if not found:
        return None
    model, name = found
    description: str | None = model.model_fields[name].description
    return description


# --- pydantic errors as problems -------------------------------------------------------------------

_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
}


def _display_loc(loc: Loc, data: Any) -> Loc:
    """The part of ``loc`` that exists in the user's file (``storage.allowed_buckets[0]`` for a
    shorthand string, not ``...[0].bucket``)."""
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return loc[:i]
    return loc


def problem_from_error(err: dict[str, Any], source: Source) -> Problem:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    # pydantic marks a dict key's own error with a last "[key]" (an unknown key named "[key]" is
    # reported at its own path instead)
    is_key = len(loc) > 1 and loc[-1] == "[key]" and kind not in ("extra_forbidden", "missing")
    if is_key:
        loc = loc[:-1]
    shown = _display_loc(loc, source.data)

    if kind in ("extra_forbidden", "invalid_key"):
        key = loc[-1]
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model else []
        if model is Environment:
            known.append(EXTENDS)  # read by the loader, not a field of the model
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return source.problem(loc, f"unknown key; {hint}expected one of: {', '.join(known)}; found {describe(key)}")
    if kind == "missing":
        what = _description(loc)
        message = f"expected this required key ({what})" if what else "expected this required key"
        at = loc if len(loc) > 1 else ()
        mark = source.locate(at[:-1]) if at else Mark(1, 1, source.file)
        return Problem(mark.file, mark.line, mark.column, format_path(loc), f"{message}, found nothing")
    if kind == "expected":
        message = f"expected {ctx['expected']}"
    elif kind == "literal_error":
        options = re.findall(r"'([^']*)'|(\d+)", str(ctx.get("expected", "")))
        choices = [a or b for a, b in options]
        message = f"expected {_one_of(choices)}"
        if isinstance(value, str) and value in choices:
            message = f"expected the number {value} (without quotes)"
        elif isinstance(value, str):
            by_lower = {c.lower(): c for c in choices}
            close = difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.6)
            if close:
                message += f" (did you mean '{by_lower[close[0]]}'?)"
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        lo, hi = _bounds(loc)
        if lo is not None and hi is not None:
            message = f"expected a whole number from {lo} to {hi}"
        elif lo is not None:
            message = f"expected a whole number of at least {lo}"
        else:
            message = f"expected a whole number of at most {hi}"
    elif kind in ("too_short", "too_long"):
        unit = "items" if isinstance(value, list) else "characters"
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        if bound == 1:
            unit = unit[:-1]
        message = f"expected at {'least' if kind == 'too_short' else 'most'} {bound} {unit}"
    elif kind in _TYPE_WORDS:
        message = f"expected {_TYPE_WORDS[kind]}"
        if kind in ("model_type", "model_attributes_type"):
            model = _model_at(loc)
            if model:
                message = f"expected a mapping with keys {', '.join(model.model_fields)}"
        if kind == "string_type" and isinstance(value, (int, float, bool, _dt.date)):
            message += " (put it in quotes)"
        if kind.startswith("int_") and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            message += " (remove the quotes)"
    else:  # pragma: no cover - a pydantic error type the model does not produce today
        message = f"expected a valid value ({err.get('msg')})"
    if is_key:
        return source.problem(shown, f"{message}, found the key {describe(loc[-1])}")
    found = describe(value)
    text = source.scalar_text.get(shown)
    if text is not None and text != found:
        found = f"{text} (YAML reads it as {found})"
    return source.problem(shown, f"{message}, found {found}", key=False)


def _one_of(choices: list[str]) -> str:
    quoted = [f"'{c}'" if not c.isdigit() else c for c in choices]
    if len(quoted) == 1:
        return quoted[0]
    return "one of " + ", ".join(quoted)
