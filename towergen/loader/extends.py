"""``extends: PATH``: an environment file built on a base file.

``PATH`` is relative to the file that says it and inside the repository (the nearest folder above
the first file with a ``.git``, else that file's folder). Chains are followed (at most
``MAX_CHAIN`` files), cycles refused. Mappings merge key by key; anything else (a list, a scalar,
null) in the more derived file replaces the base's. Every key and value keeps the file, line and
column where it was written, so a problem is reported there. A base file may be partial: only
the merged result is validated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError
from ..spec import reader
from ..spec.describe import describe
from ..spec.model import EXTENDS
from ..spec.reader import Loc, Mark, Parsed
from .source import Source, as_source, has

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


def follow_extends(first: Parsed, first_path: str | os.PathLike[str]) -> Source:
    """The file merged over its chain of base files (``extends: PATH``, relative to the file
    that says it). Refuses a base outside the repository, a missing base and a cycle, each at
    the ``extends`` that names it, with the chain."""
    chain = [first]
    found = _take_extends(first, [])
    if found is None:
        return as_source(first)
    repo = repository_of(first_path)
    here = os.fspath(first_path)
    seen = [os.path.realpath(here)]
    names = [first.file]
    current = first
    while found is not None:
        value, mark = found

        def refuse(message: str, mark: Mark = mark) -> SpecError:
            problems = [p for doc in chain for p in doc.problems]
            return SpecError([*problems, Problem(mark.file, mark.line, mark.column, EXTENDS, message)])

        if not isinstance(value, str) or not value.strip():
            raise refuse(f"expected the path of a base file, relative to this file (such as ../base.yaml), found {describe(value)}")
        if os.path.isabs(value):
            raise refuse(f"expected a path relative to this file (so the repository can move), found the absolute path {describe(value)}")
        target = os.path.join(os.path.dirname(here), value)
        shown = reader.display_name(os.path.normpath(os.path.join(os.path.dirname(current.file), value)))
        real = os.path.realpath(target)
        if os.path.commonpath([real, str(repo)]) != str(repo):
            relative = os.path.relpath(repo)
            where = reader.display_name(relative if relative.count("..") < 4 else repo)
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
            text = reader.read_text(target, shown)
        except reader.Refused as exc:
            raise refuse(f"{exc.message} ({shown})") from None
        except SpecError as exc:  # a byte that is not UTF-8
            raise SpecError([*(p for doc in chain for p in doc.problems), *exc.problems]) from None
        try:
            base = reader.parse(text, shown)
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
    return as_source(merged, names)


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
        src = child if has(child.data, loc) else base
        if loc in src.value_marks:
            out.value_marks[loc] = src.value_marks[loc]
        if loc in src.key_marks:
            out.key_marks[loc] = src.key_marks[loc]
        if loc in src.scalar_text:
            out.scalar_text[loc] = src.scalar_text[loc]
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
