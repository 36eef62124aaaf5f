"""A parsed environment file (its base files merged in) with the position of every key and value,
so that any problem can be reported where it was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..spec import reader
from ..spec.reader import Loc, Mark, Parsed, format_path


@dataclass
class Source(Parsed):
    """A parsed environment file (with its base files merged in: ``extends``) and the position of
    every key and value, each in the file where it was written (``file`` is the file given, the
    most derived one, as displayed)."""

    # the files read, the given one first, then each base in the order ``extends`` names them
    files: list[str] = field(default_factory=list)

    def has(self, *path: Any) -> bool:
        """Whether the file itself sets this key (as opposed to a default)."""
        return has(self.data, path)

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


def has(data: Any, path: Loc) -> bool:
    """Whether ``data`` holds a value at ``path``."""
    node = data
    for part in path:
        in_list = isinstance(node, list) and isinstance(part, int) and not isinstance(part, bool) and 0 <= part < len(node)
        if (isinstance(node, dict) and part in node) or in_list:
            node = node[part]
        else:
            return False
    return True


def parse_yaml(text: str, file: str) -> Source:
    """One YAML document with positions (``spec.reader``: bounded, YAML 1.2 scalars); ``extends``
    is not followed (see ``towergen.loader.validate.load_text``)."""
    return as_source(reader.parse(text, file))


def as_source(parsed: Parsed, files: list[str] | None = None) -> Source:
    return Source(
        parsed.file, parsed.data, parsed.value_marks, parsed.key_marks, parsed.scalar_text,
        parsed.problems, parsed.broken, files or [parsed.file],
    )
