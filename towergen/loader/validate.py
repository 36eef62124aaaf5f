"""Read an environment file: YAML with positions (``spec.reader``), its base files
(``extends``), pydantic validation, cross-key rules, then the resolved environment and the
warnings it deserves.

Every problem in a file is collected and reported at once, each with file:line:column, the key
path, what was expected and what was found. Nothing here prints or exits: problems travel in a
``SpecError`` to the CLI.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..decide.resolved import Resolved, resolve
from ..errors import Problem, SpecError
from ..spec import reader
from ..spec.describe import describe
from ..spec.model import Environment
from ..spec.reader import Loc
from . import advice, rules
from .extends import follow_extends
from .messages import problem_from_error
from .source import Source, as_source


@dataclass
class Loaded:
    """A valid environment, where it came from, what towergen makes of it, and the warnings it
    deserves."""

    env: Environment
    source: Source
    resolved: Resolved  # every fact the output needs, derived once (towergen.decide)
    warnings: list[Problem]


_PLACEHOLDERS = {"version": 1, "name": "placeholder", "region": "us-east-1", "work_dir": "s3://placeholder-bucket"}


def load_text(text: str, file: str, *, path: str | os.PathLike[str] | None = None) -> Loaded:
    """Validate one environment file's text (``file`` is its name in messages; ``path``, by
    default ``file``, is where ``extends`` paths start from). Raises SpecError with every
    problem found."""
    parsed = reader.parse(text, file)
    if not isinstance(parsed.data, dict):
        raise SpecError([as_source(parsed).problem((), f"expected a mapping of keys, found {describe(parsed.data)}")])
    return _validate(follow_extends(parsed, path if path is not None else file))


def _validate(source: Source) -> Loaded:
    problems: list[Problem] = list(source.problems)
    broken: set[Loc] = set(source.broken)
    env: Environment | None
    try:
        env = Environment.model_validate(source.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if not _touches(frozenset([tuple(err["loc"])]), source.broken):
                problems.append(problem_from_error(dict(err), source))
        env, more = _best_effort(source.data, exc)
        broken |= more
    if env is not None:
        problems.extend(p for paths, p in rules.check(env, source) if not _touches(paths, broken))
    if problems:
        raise SpecError(problems)
    assert env is not None
    resolved = resolve(env, Path(source.file).name)
    return Loaded(env, source, resolved, sorted(advice.check(resolved, source)))


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
    name = display or reader.display_name(path)
    try:
        text = reader.read_text(path, name)
    except reader.Refused as exc:
        raise SpecError([Problem(name, 0, 0, "", exc.message)]) from None
    return load_text(text, name, path=path)
