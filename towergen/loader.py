"""Read an environment file: YAML with positions, pydantic validation, cross-key rules.

Every problem in a file is collected and reported at once, each with file:line:column, the key
path, what was expected and what was found. Nothing here prints or exits: problems travel in a
``SpecError`` to the CLI.
"""

from __future__ import annotations

import copy
import datetime as _dt
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from . import rules
from .describe import describe, format_path
from .errors import Problem, SpecError
from .model import Environment
from .resolved import Resolved, resolve

Loc = tuple[Any, ...]


@dataclass
class Source:
    """A parsed YAML document with the position of every key and value."""

    file: str
    data: Any
    value_marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    # the text of plain scalars YAML reads as something else ("yes" is true)
    scalar_text: dict[Loc, str] = field(default_factory=dict)
    # problems that do not stop validation (a duplicate key)
    problems: list[Problem] = field(default_factory=list)

    def has(self, *path: Any) -> bool:
        """Whether the file itself sets this key (as opposed to a default)."""
        node = self.data
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return False
        return True

    def position(self, loc: Loc, *, key: bool = True) -> tuple[int, int]:
        """Line and column of ``loc``: its key when ``key`` (else its value), or the nearest
        ancestor that exists in the file."""
        loc = tuple(loc)
        while loc:
            if key and loc in self.key_marks:
                return self.key_marks[loc]
            if loc in self.value_marks:
                return self.value_marks[loc]
            loc = loc[:-1]
        return self.value_marks.get((), (1, 1))

    def problem(self, loc: Loc, message: str, *, at: Loc | None = None, key: bool = True) -> Problem:
        line, col = self.position(at if at is not None else loc, key=key)
        return Problem(self.file, line, col, format_path(loc), message)


@dataclass
class Loaded:
    """A valid environment, where it came from, and the warnings it deserves."""

    env: Environment
    source: Source
    warnings: list[Problem]

    @cached_property
    def resolved(self) -> Resolved:
        """Every fact the output needs, derived once (``resolved.py``)."""
        return resolve(self.env, Path(self.source.file).name)


# --- YAML ----------------------------------------------------------------------------------------


def parse_yaml(text: str, file: str) -> Source:
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise SpecError([_syntax_problem(file, exc)]) from None
        except yaml.YAMLError as exc:
            raise SpecError([Problem(file, 1, 1, "", f"expected valid YAML, found: {exc}")]) from None
        source = Source(file, None)
        if root is None:
            raise SpecError([Problem(file, 1, 1, "", "expected a mapping of keys, found an empty file")])
        source.data = _walk(loader, root, (), source, source.problems)
        return source
    finally:
        loader.dispose()


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = exc.problem or "unreadable"
    if "\\t" in what or "\t" in what:
        what += " (indent with spaces: YAML does not allow tabs)"
    if exc.context and exc.context_mark and exc.context_mark is not exc.problem_mark:
        start = exc.context_mark
        what += f" ({exc.context} that starts at line {start.line + 1}, column {start.column + 1})"
    elif exc.context:
        what = f"{exc.context}, {what}"
    return Problem(file, line, col, "", f"expected valid YAML, found a syntax error: {what}")


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(loader: yaml.SafeLoader, node: yaml.Node, path: Loc, source: Source, problems: list[Problem]) -> Any:
    source.value_marks[path] = _mark(node)
    if isinstance(node, MappingNode):
        try:
            loader.flatten_mapping(node)  # YAML merge keys ("<<: *defaults")
        except yaml.MarkedYAMLError as exc:
            line, col = _mark(node)
            problems.append(Problem(source.file, line, col, format_path(path), f"expected a valid merge key, found: {exc.problem}"))
            return {}
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                line, col = _mark(key_node)
                problems.append(Problem(source.file, line, col, format_path(path), "expected a plain key, found a list or mapping used as a key"))
                continue
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)) or key is None:
                key = key_node.value
            child = path + (key,)
            if key in result:
                line, col = _mark(key_node)
                first = source.key_marks[child]
                problems.append(
                    Problem(source.file, line, col, format_path(child), f"expected each key once, found it again (first at line {first[0]})")
                )
                continue
            source.key_marks[child] = _mark(key_node)
            result[key] = _walk(loader, value_node, child, source, problems)
        return result
    if isinstance(node, SequenceNode):
        return [_walk(loader, item, path + (i,), source, problems) for i, item in enumerate(node.value)]
    try:
        value = loader.construct_object(node, deep=True)
        if isinstance(node, ScalarNode) and not node.style and isinstance(value, (bool, type(None))):
            source.scalar_text[path] = node.value
        return value
    except yaml.YAMLError as exc:
        line, col = _mark(node)
        problems.append(Problem(source.file, line, col, format_path(path), f"expected a readable value, found: {exc}"))
        return None


# --- the model's shape, for messages ---------------------------------------------------------------


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


def _field_at(loc: Loc):
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
    return model.model_fields[name].description


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


def _problem_from_error(err: dict[str, Any], source: Source) -> Problem:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    is_key = bool(loc) and loc[-1] == "[key]"
    if is_key:
        loc = loc[:-1]
    shown = _display_loc(loc, source.data)

    if kind in ("extra_forbidden", "invalid_key"):
        key = loc[-1]
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return source.problem(loc, f"unknown key; {hint}expected one of: {', '.join(known)}; found {describe(key)}")
    if kind == "missing":
        what = _description(loc)
        message = f"expected this required key ({what})" if what else "expected this required key"
        at = loc if len(loc) > 1 else ()
        line, col = source.position(at[:-1]) if at else (1, 1)
        return Problem(source.file, line, col, format_path(loc), f"{message}, found nothing")
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


# --- entry points ----------------------------------------------------------------------------------

_PLACEHOLDERS = {"version": 1, "name": "placeholder", "region": "us-east-1", "work_dir": "s3://placeholder-bucket"}


def load_text(text: str, file: str) -> Loaded:
    """Validate one environment file's text. Raises SpecError with every problem found."""
    source = parse_yaml(text, file)
    if not isinstance(source.data, dict):
        raise SpecError([source.problem((), f"expected a mapping of keys, found {describe(source.data)}")])
    problems: list[Problem] = list(source.problems)
    broken: set[Loc] = set()
    env: Environment | None
    try:
        env = Environment.model_validate(source.data)
    except ValidationError as exc:
        problems.extend(_problem_from_error(e, source) for e in exc.errors(include_url=False))
        env, broken = _best_effort(source.data, exc)
    warnings: list[Problem] = []
    if env is not None:
        found, warned = rules.check(env, source)
        problems.extend(p for paths, p in found if not _touches(paths, broken))
        warnings.extend(p for paths, p in warned if not _touches(paths, broken))
    if problems:
        raise SpecError(problems)
    assert env is not None
    return Loaded(env, source, sorted(warnings))


def _touches(paths: frozenset[Loc], broken: set[Loc]) -> bool:
    """Whether a rule reading ``paths`` would read a key the user got wrong."""
    return any(p[: len(b)] == b or b[: len(p)] == p for p in paths for b in broken)


def _best_effort(data: dict[str, Any], exc: ValidationError) -> tuple[Environment | None, set[Loc]]:
    """A model with each broken key replaced by its default (or a placeholder where it has
    none), so that the rules can still speak about everything else in the file."""
    data = copy.deepcopy(data)
    broken: set[Loc] = set()
    errors = exc.errors()
    for _ in range(5):
        for err in errors:
            loc = tuple(err["loc"])
            if loc and loc[-1] == "[key]":
                loc = loc[:-1]
            # an item of a list stands for the whole list (its default replaces it)
            for i, part in enumerate(loc):
                if isinstance(part, int):
                    loc = loc[:i]
                    break
            if not loc:
                return None, broken
            if len(loc) == 1 and loc[0] in _PLACEHOLDERS:
                data[loc[0]] = _PLACEHOLDERS[loc[0]]
            elif err["type"] == "missing":
                loc = loc[:-1]  # a section without a required key: drop the section
                _remove(data, loc)
            else:
                _remove(data, loc)
            broken.add(loc)
        try:
            return Environment.model_validate(data), broken
        except ValidationError as again:
            errors = again.errors()
    return None, broken


def _remove(data: Any, loc: Loc) -> None:
    node = data
    for part in loc[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if isinstance(node, dict):
        node.pop(loc[-1], None)


def load_file(path: str | Path, display: str | None = None) -> Loaded:
    """Read and validate an environment file. ``display`` is the name used in messages."""
    path = Path(path)
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError([Problem(name, 0, 0, "", f"expected a readable file, found: {exc.strerror or exc}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError([Problem(name, line, col, "", "expected UTF-8 text, found a byte that is not UTF-8")]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return load_text(text, name)
