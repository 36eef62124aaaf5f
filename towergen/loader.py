"""Read an environment file: YAML with positions (``yamlsafe``), its base files (``extends``),
pydantic validation, cross-key rules.

``extends: PATH`` names a base file, relative to the file that says it and inside the repository
(the nearest folder above the first file with a ``.git``, else that file's folder). Chains are
followed (at most ``MAX_CHAIN`` files), cycles refused. Mappings merge key by key, anything else
(a list, a scalar, null) in the more derived file replaces the base's. Every key and value keeps
the file, line and column where it was written, so a problem is reported there. A base file may
be partial: only the merged result is validated.

Every problem in a file is collected and reported at once, each with file:line:column, the key
path, what was expected and what was found. Nothing here prints or exits: problems travel in a
``SpecError`` to the CLI.
"""

from __future__ import annotations

import copy
import datetime as _dt
import difflib
import os
import re
import types
import typing
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from . import rules, yamlsafe
from .describe import describe
from .errors import Problem, SpecError
from .model import Environment
from .resolved import Resolved, resolve
from .yamlsafe import Loc, Mark, Parsed, format_path

__all__ = ["Loaded", "Source", "load_file", "load_text", "parse_yaml", "format_path", "describe", "file_schema"]


@dataclass
class Source(Parsed):
    """A parsed environment file (with its base files merged in: ``extends``) and the position of
    every key and value, each in the file where it was written (``file`` is the file given, the
    most derived one, as displayed)."""

    # the files read, the given one first, then each base in the order ``extends`` names them
    files: list[str] = field(default_factory=list)

    def has(self, *path: Any) -> bool:
        """Whether the file itself sets this key (as opposed to a default)."""
        return _has(self.data, path)

    def locate(self, loc: Loc, *, key: bool = True) -> Mark:
        """Where ``loc`` was written: its key when ``key`` (else its value), or the nearest
        ancestor that exists in the files."""
        loc = tuple(loc)
        while loc:
            if key and loc in self.key_marks:
                return self.key_marks[loc]
            if loc in self.value_marks:
                return self.value_marks[loc]
            loc = loc[:-1]
        return self.value_marks.get((), Mark(1, 1, self.file))

    def position(self, loc: Loc, *, key: bool = True) -> tuple[int, int]:
        """Line and column of ``loc`` (see ``locate``, which also says in which file)."""
        mark = self.locate(loc, key=key)
        return mark.line, mark.column

    def problem(self, loc: Loc, message: str, *, at: Loc | None = None, key: bool = True) -> Problem:
        mark = self.locate(at if at is not None else loc, key=key)
        return Problem(mark.file, mark.line, mark.column, format_path(loc), message)


def _has(data: Any, path: Loc) -> bool:
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and not isinstance(part, bool) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return True


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
    """One YAML document with positions (``yamlsafe``: bounded, YAML 1.2 scalars); ``extends``
    is not followed (see ``load_text``)."""
    return _source(yamlsafe.parse(text, file))


def _source(parsed: Parsed, files: list[str] | None = None) -> Source:
    return Source(
        parsed.file, parsed.data, parsed.value_marks, parsed.key_marks, parsed.scalar_text,
        parsed.problems, parsed.broken, files or [parsed.file],
    )


# --- extends: base files ---------------------------------------------------------------------------

EXTENDS = "extends"
MAX_CHAIN = 16  # files in one chain of extends


def repository_of(path: str | os.PathLike[str]) -> Path:
    """The folder that ``extends`` paths may not leave: the nearest folder holding ``path``
    that has a ``.git`` (a folder, or a file in a git worktree); outside git (a tarball, a copied
    folder), the current folder when it holds ``path``, else the folder of ``path``."""
    folder = Path(os.path.realpath(os.path.dirname(os.path.abspath(path))))
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    cwd = Path(os.path.realpath(os.getcwd()))
    if os.path.commonpath([str(folder), str(cwd)]) == str(cwd):
        return cwd
    return folder


def _take_extends(parsed: Parsed, earlier: list[Problem]) -> tuple[Any, Mark] | None:
    """Remove ``extends`` from a parsed file: (its value, where the value is), or None. An
    unreadable value ends the reading with ``earlier`` problems and the file's own."""
    if not isinstance(parsed.data, dict) or EXTENDS not in parsed.data:
        return None
    loc = (EXTENDS,)
    value = parsed.data.pop(EXTENDS)
    mark = parsed.value_marks.get(loc) or parsed.key_marks[loc]
    for marks in (parsed.value_marks, parsed.key_marks, parsed.scalar_text):
        for other in [k for k in marks if k[:1] == loc]:
            del marks[other]
    if loc in parsed.broken:  # a control character, a tag: the problem is reported already
        raise SpecError([*earlier, *parsed.problems])
    return value, mark


def _follow_extends(first: Parsed, first_path: str | os.PathLike[str]) -> Source:
    """The file merged over its chain of base files (``extends: PATH``, relative to the file
    that says it). Refuses a base outside the repository, a missing base and a cycle, each at
    the ``extends`` that names it, with the chain."""
    chain = [first]
    found = _take_extends(first, [])
    if found is None:
        return _source(first)
    repo = repository_of(first_path)
    here = os.fspath(first_path)
    seen = [os.path.realpath(here)]
    names = [first.file]
    current = first
    while found is not None:
        value, mark = found

        def refuse(message: str) -> SpecError:
            problems = [p for doc in chain for p in doc.problems]
            return SpecError([*problems, Problem(mark.file, mark.line, mark.column, EXTENDS, message)])

        if not isinstance(value, str) or not value.strip():
            raise refuse(f"expected the path of a base file, relative to this file (such as ../base.yaml), found {describe(value)}")
        if os.path.isabs(value):
            raise refuse(f"expected a path relative to this file (so the repository can move), found the absolute path {describe(value)}")
        target = os.path.join(os.path.dirname(here), value)
        shown = yamlsafe.display_name(os.path.normpath(os.path.join(os.path.dirname(current.file), value)))
        real = os.path.realpath(target)
        if os.path.commonpath([real, str(repo)]) != str(repo):
            relative = os.path.relpath(repo)
            where = yamlsafe.display_name(relative if relative.count("..") < 4 else repo)
            raise refuse(
                f"expected a base file inside the repository ({where}: the git repository, or outside git the "
                f"current folder), found {describe(value)}, which leads outside it"
            )
        if real in seen:
            cycle = " -> ".join([*names, shown])
            raise refuse(f"expected a chain of extends without a cycle, found {cycle}")
        if len(chain) >= MAX_CHAIN:
            raise refuse(f"expected at most {MAX_CHAIN} files in a chain of extends, found more: {' -> '.join(names)} -> ...")
        if not os.path.lexists(target):
            raise refuse(f"expected the path of an existing file (relative to this file), found {describe(value)}: there is no {shown}")
        try:
            text = yamlsafe.read_text(target, shown)
        except yamlsafe.Refused as exc:
            raise refuse(f"{exc.message} ({shown})") from None
        except SpecError as exc:  # a byte that is not UTF-8
            raise SpecError([*(p for doc in chain for p in doc.problems), *exc.problems]) from None
        try:
            base = yamlsafe.parse(text, shown)
        except SpecError as exc:
            raise SpecError([*(p for doc in chain for p in doc.problems), *exc.problems]) from None
        if not isinstance(base.data, dict):
            raise SpecError([Problem(shown, *base.value_marks[()][:2], "", f"expected a mapping of keys (a base file), found {describe(base.data)}")])
        chain.append(base)
        seen.append(real)
        names.append(shown)
        here, current = target, base
        found = _take_extends(base, [p for doc in chain[:-1] for p in doc.problems])
    merged = chain[-1]
    for child in reversed(chain[:-1]):
        merged = _overlay(merged, child)
    return _source(merged, names)


def _merge(base: Any, child: Any) -> Any:
    """Mappings merge key by key (deeply); anything else in the child replaces the base's."""
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for key, value in child.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return child


def _overlay(base: Parsed, child: Parsed) -> Parsed:
    """``child`` merged over ``base``: each key and value keeps the position where it was written."""
    out = Parsed(child.file, _merge(base.data, child.data), problems=[*base.problems, *child.problems])

    def take(loc: Loc, value: Any) -> None:
        src = child if _has(child.data, loc) else base
        for mine, theirs in ((out.value_marks, src.value_marks), (out.key_marks, src.key_marks), (out.scalar_text, src.scalar_text)):
            if loc in theirs:
                mine[loc] = theirs[loc]
        if loc in src.broken:
            out.broken.add(loc)
        if isinstance(value, dict):
            for key, item in value.items():
                take(loc + (key,), item)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                take(loc + (i,), item)

    take((), out.data)
    return out


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


# --- entry points ----------------------------------------------------------------------------------

_PLACEHOLDERS = {"version": 1, "name": "placeholder", "region": "us-east-1", "work_dir": "s3://placeholder-bucket"}


def load_text(text: str, file: str, *, path: str | os.PathLike[str] | None = None) -> Loaded:
    """Validate one environment file's text (``file`` is its name in messages; ``path``, by
    default ``file``, is where ``extends`` paths start from). Raises SpecError with every
    problem found."""
    parsed = yamlsafe.parse(text, file)
    if not isinstance(parsed.data, dict):
        raise SpecError([_source(parsed).problem((), f"expected a mapping of keys, found {describe(parsed.data)}")])
    return _validate(_follow_extends(parsed, path if path is not None else file))


def _validate(source: Source) -> Loaded:
    problems: list[Problem] = list(source.problems)
    broken: set[Loc] = set(source.broken)
    env: Environment | None
    try:
        env = Environment.model_validate(source.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if not _touches(frozenset([tuple(err["loc"])]), source.broken):
                problems.append(_problem_from_error(err, source))
        env, more = _best_effort(source.data, exc)
        broken |= more
    warnings: list[Problem] = []
    if env is not None:
        found, warned = rules.check(env, source)
        problems.extend(p for paths, p in found if not _touches(paths, broken))
        warnings.extend(p for paths, p in warned if not _touches(paths, broken))
    if problems:
        raise SpecError(problems)
    assert env is not None
    return Loaded(env, source, sorted(warnings))


def file_schema() -> dict[str, Any]:
    """The JSON Schema of an environment file: the model's, plus ``extends`` (read by the loader,
    not a field of the model), so that an editor accepts a file that names a base file. A base
    file itself is partial: it need not match this schema."""
    schema = Environment.model_json_schema()
    schema["properties"][EXTENDS] = {
        "type": "string",
        "minLength": 1,
        "title": "Extends",
        "description": "a base file (a path relative to this file, inside the repository) whose keys this file "
        "overrides: mappings merge key by key, lists and other values are replaced",
    }
    return schema


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


def load_file(path: str | os.PathLike[str], display: str | None = None) -> Loaded:
    """Read and validate an environment file and its base files. ``display`` is the name used in
    messages (default: the path, with bytes that are not UTF-8 shown as escapes)."""
    name = display or yamlsafe.display_name(path)
    try:
        text = yamlsafe.read_text(path, name)
    except yamlsafe.Refused as exc:
        raise SpecError([Problem(name, 0, 0, "", exc.message)]) from None
    return load_text(text, name, path=path)
