"""Read a YAML file safely: bounded in size, depth and expansion, scalars as YAML 1.2 reads them.

Every refusal is a ``Problem`` with the file, line and column, never an exception from PyYAML
or Python. What is bounded, and why:

- the file: a regular file (a FIFO or a device is refused before it is read; the file is opened
  with O_NONBLOCK), at most ``MAX_BYTES``, read with at most ``MAX_BYTES + 1`` bytes;
- the text: no control characters (NUL, ESC, ...): YAML forbids them, terminals act on them;
- nesting: at most ``MAX_DEPTH`` levels (PyYAML composes recursively: 10,000 ``[`` crash it);
- expansion: at most ``MAX_NODES`` keys and values once aliases are expanded (a 420-byte
  "billion laughs" file otherwise expands to gigabytes).

Scalars follow the YAML 1.2 core schema, so ``yes``, ``on``, ``12:30`` and ``2024-01-01`` are
strings. Two choices go further than the schema: a decimal integer with a leading zero (``0100``)
is refused, as YAML 1.1 tools read it as octal (64) and YAML 1.2 as 100; and an integer of more
than ``MAX_DIGITS`` digits is refused as out of range. Explicit tags other than the core ones
(``!!binary``, ``!!timestamp``, ``!Ref``...) are refused. Merge keys (``<<: *defaults``) work as
in YAML 1.1, with the mapping's own keys overriding the merged ones.
"""

from __future__ import annotations

import json
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from ..errors import Problem, SpecError

Loc = tuple[Any, ...]

MAX_BYTES = 1 << 20  # 1 MiB: an environment file is a few hundred bytes
MAX_DEPTH = 64  # levels of nesting (a file has about 5)
MAX_NODES = 10_000  # keys and values once aliases are expanded (a file has about 100)
MAX_DIGITS = 18  # every number a file holds fits in 18 digits (less than 2**63)
_SIZE = f"{MAX_BYTES >> 20} MiB"
_TOO_MANY = f"expected at most {MAX_NODES} keys and values once aliases (*name) are expanded, found more"

_TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
SEQ, MAP, MERGE = _TAG + "seq", _TAG + "map", _TAG + "merge"

# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution)
_NULL_RE = re.compile(r"~|null|Null|NULL|")
_BOOL_RE = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT_RE = re.compile(r"([-+]?)([0-9]+)|0o([0-7]+)|0x([0-9a-fA-F]+)")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|([-+]?)\.(inf|Inf|INF)|\.(nan|NaN|NAN)")

# C0 and C1 control characters and DEL, except tab, line feed and carriage return
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ANY_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_VALUE_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # a value may hold tabs and line feeds
_CONTROL_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x0B: "VT", 0x0C: "FF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL"}


class Mark(NamedTuple):
    """Where something was written: 1-based line and column, and the file (as displayed)."""

    line: int
    column: int
    file: str


@dataclass
class Parsed:
    """One YAML document as plain Python data, with the position of every key and value."""

    file: str
    data: Any
    value_marks: dict[Loc, Mark] = field(default_factory=dict)
    key_marks: dict[Loc, Mark] = field(default_factory=dict)
    # the text of plain scalars that YAML reads as something else ("True" is true)
    scalar_text: dict[Loc, str] = field(default_factory=dict)
    # problems that do not stop validation (a duplicate key, an unreadable value)
    problems: list[Problem] = field(default_factory=list)
    # values that could not be read: their own problem is reported, not the model's
    broken: set[Loc] = field(default_factory=set)


class Refused(Exception):
    """A file that is not read at all: why, in the words of a problem message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- names and paths in messages -------------------------------------------------------------------


def display_name(path: str | os.PathLike[str] | bytes) -> str:
    """A file name safe to print: bytes that are not UTF-8 (surrogate escapes in a Python path)
    and control characters are shown as backslash escapes."""
    text = os.fsdecode(path)
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        raw = text.encode("utf-8", "surrogatepass")
    shown = raw.decode("utf-8", "backslashreplace")
    return _ANY_CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", shown)


_PLAIN_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def format_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY_RE.match(part) and len(part) <= 40:
            out += ("." if out else "") + part
        else:
            text = part if isinstance(part, str) else _scalar_word(part)
            if len(text) > 40:
                text = text[:37] + "..."
            out += "[" + json.dumps(text, ensure_ascii=unicodedata.normalize("NFC", text) != text) + "]"
    return out


def _scalar_word(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _control_name(char: str) -> str:
    code = ord(char)
    name = _CONTROL_NAMES.get(code)
    return f"U+{code:04X} ({name})" if name else f"U+{code:04X}"


# --- the file ------------------------------------------------------------------------------------

_KINDS = [
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
]


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    for test, kind in _KINDS:
        if test(mode):
            return f"expected a regular file, found {kind}"
    return "expected a regular file, found something else"


def read_text(path: str | os.PathLike[str], file: str) -> str:
    """The UTF-8 text of a regular file of at most ``MAX_BYTES``, without its byte-order mark.

    Raises ``Refused`` when the file cannot be read (a message without a position), SpecError
    when a byte is not UTF-8 (``file`` is the name shown)."""
    try:
        st = os.stat(path)
    except ValueError:  # a NUL in the path
        raise Refused("expected a readable file, found a name with a NUL character") from None
    except OSError as exc:
        raise Refused(f"expected a readable file, found: {exc.strerror or exc}") from None
    why = _not_regular(st.st_mode)
    if why:
        raise Refused(why)
    if st.st_size > MAX_BYTES:
        raise Refused(f"expected a file of at most {_SIZE}, found {st.st_size} bytes")
    try:
        # O_NONBLOCK: should a FIFO be swapped in after the stat, opening it does not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise Refused(f"expected a readable file, found: {exc.strerror or exc}") from None
    try:
        why = _not_regular(os.fstat(fd).st_mode)
        if why:
            raise Refused(why)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise Refused(f"expected a readable file, found: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise Refused(f"expected a file of at most {_SIZE}, found more")
    raw = b"".join(chunks)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError([Problem(file, line, col, "", "expected UTF-8 text, found a byte that is not UTF-8")]) from None
    return text[1:] if text.startswith("\ufeff") else text


def text_problems(text: str, file: str) -> list[Problem]:
    """Problems of the raw text that stop any parsing: its size and control characters (one
    problem per line, at most 10)."""
    if len(text) > MAX_BYTES:
        return [Problem(file, 0, 0, "", f"expected a file of at most {_SIZE}, found {len(text)} characters")]
    problems: list[Problem] = []
    line, line_start, pos = 1, 0, 0
    while len(problems) < 10:
        match = _CONTROL_RE.search(text, pos)
        if not match:
            break
        start = match.start()
        line += text.count("\n", line_start, start)
        line_start = text.rfind("\n", 0, start) + 1
        problems.append(
            Problem(file, line, start - line_start + 1, "", f"expected text without control characters, found {_control_name(match.group())}")
        )
        pos = text.find("\n", start)  # one problem per line
        if pos < 0:
            break
    return problems


# --- composing: events into nodes, without recursion ----------------------------------------------


class _Node:
    __slots__ = ("kind", "mark", "plain", "tag", "value")

    def __init__(self, kind: str, tag: str, value: Any, mark: Mark, plain: bool = False):
        self.kind = kind  # "scalar" | "seq" | "map"
        self.tag = tag
        self.value = value  # str | list[_Node] | list[tuple[_Node, _Node]]
        self.mark = mark
        self.plain = plain


def _resolve(value: str) -> str:
    """The YAML 1.2 core schema's tag for a plain scalar (plus the merge key ``<<``)."""
    if _NULL_RE.fullmatch(value):
        return NULL
    if _BOOL_RE.fullmatch(value):
        return BOOL
    if _INT_RE.fullmatch(value):
        return INT
    if _FLOAT_RE.fullmatch(value):
        return FLOAT
    if value == "<<":
        return MERGE
    return STR


# YAML events come from libyaml's parser when PyYAML has it (fifteen times faster), else from
# PyYAML's own. Neither recurses.
_LIBYAML = bool(getattr(yaml, "__with_libyaml__", False))


def _events(text: str) -> Iterator[Any]:
    events: Iterator[Any] = yaml.parse(text, Loader=yaml.CSafeLoader if _LIBYAML else yaml.SafeLoader)
    return events


def _compose(events: Iterable[Any], file: str) -> _Node | None:
    """The single document of an event stream as nodes (aliases shared), at most MAX_DEPTH deep."""

    def mark(event: Any) -> Mark:
        return Mark(event.start_mark.line + 1, event.start_mark.column + 1, file)

    anchors: dict[str, _Node] = {}
    stack: list[tuple[_Node, list[_Node]]] = []  # open collections, with a pending key for maps
    root: _Node | None = None
    documents = 0
    nodes = 0

    def add(node: _Node) -> None:
        nonlocal root, nodes
        nodes += 1
        if nodes > MAX_NODES:  # as many written: more once aliases are expanded
            raise _stop(Problem(file, node.mark.line, node.mark.column, "", _TOO_MANY))
        if not stack:
            root = node
            return
        parent, pending = stack[-1]
        if parent.kind == "seq":
            parent.value.append(node)
        elif pending:
            parent.value.append((pending.pop(), node))
        else:
            pending.append(node)

    def collection_tag(event: Any, default: str) -> str:
        return default if event.tag in (None, "!") else event.tag

    for event in events:
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _stop(Problem(file, *mark(event)[:2], "", "expected a single YAML document, found a second one (a line '---' starts it)"))
        elif isinstance(event, (DocumentEndEvent, StreamEndEvent)):
            continue
        elif isinstance(event, AliasEvent):
            if event.anchor not in anchors:
                raise _stop(Problem(file, *mark(event)[:2], "", f"expected valid YAML, found a syntax error: found undefined alias {event.anchor!r}"))
            add(anchors[event.anchor])
        elif isinstance(event, ScalarEvent):
            if event.tag is None:
                tag = _resolve(event.value) if event.implicit[0] else STR
            elif event.tag == "!":
                tag = STR  # the non-specific tag: a string (PyYAML resolves it as if plain)
            else:
                tag = event.tag
            node = _Node("scalar", tag, event.value, mark(event), plain=event.tag is None and event.implicit[0])
            if event.anchor is not None:
                anchors[event.anchor] = node
            add(node)
        elif isinstance(event, (SequenceStartEvent, MappingStartEvent)):
            if len(stack) >= MAX_DEPTH:
                raise _stop(Problem(file, *mark(event)[:2], "", f"expected at most {MAX_DEPTH} levels of nesting, found more"))
            is_seq = isinstance(event, SequenceStartEvent)
            node = _Node("seq" if is_seq else "map", collection_tag(event, SEQ if is_seq else MAP), [], mark(event))
            if event.anchor is not None:
                anchors[event.anchor] = node  # before its items: an alias inside refers to it
            add(node)
            stack.append((node, []))
        elif isinstance(event, (SequenceEndEvent, MappingEndEvent)):
            stack.pop()
    return root


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


def _stop(problem: Problem) -> SpecError:
    return SpecError([problem])


def _document(text: str, file: str) -> _Node | None:
    try:
        return _compose(_events(text), file)
    except yaml.MarkedYAMLError as exc:
        problem = _syntax_problem(file, exc)
    except yaml.YAMLError as exc:
        problem = Problem(file, 1, 1, "", f"expected valid YAML, found: {exc}")
    if not _LIBYAML:
        raise _stop(problem)
    # libyaml's words differ from PyYAML's: say it as PyYAML does (the messages users know), when
    # PyYAML finds a problem in the text up to the line after libyaml's (bounded: a short read)
    end = text.find("\n", _line_start(text, problem.line + 1))
    prefix = text if end < 0 else text[: end + 1]
    if len(prefix) <= _REPARSE_LIMIT:
        pure = None
        try:
            _compose(_pure_events(prefix), file)
        except yaml.MarkedYAMLError as exc:
            pure = _syntax_problem(file, exc)
        except SpecError as exc:  # our own bounds (libyaml stops at 1,000 levels, we at 64)
            pure = exc.problems[0]
        except yaml.YAMLError:
            pass
        if pure is not None and (pure.line, pure.column) <= (problem.line + 1, 1):
            problem = pure
    raise _stop(problem)


_REPARSE_LIMIT = 64 * 1024


def _line_start(text: str, line: int) -> int:
    """The index where 1-based ``line`` starts (the text's length past its end)."""
    pos = 0
    for _ in range(line - 1):
        pos = text.find("\n", pos) + 1
        if pos == 0:
            return len(text)
    return pos


def _pure_events(text: str) -> Iterator[Any]:
    events: Iterator[Any] = yaml.parse(text, Loader=yaml.SafeLoader)
    return events


# --- nodes into values -----------------------------------------------------------------------------


class _Walker:
    def __init__(self, parsed: Parsed):
        self.parsed = parsed
        self.file = parsed.file
        self.count = 0

    def problem(self, mark: Mark, loc: Loc, message: str) -> None:
        self.parsed.problems.append(Problem(self.file, mark.line, mark.column, format_path(loc), message))

    def visit(self, node: _Node, depth: int) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise _stop(
                Problem(self.file, node.mark.line, node.mark.column, "",
                        _TOO_MANY)
            )
        if depth > MAX_DEPTH:
            raise _stop(
                Problem(self.file, node.mark.line, node.mark.column, "",
                        f"expected at most {MAX_DEPTH} levels of nesting once aliases (*name) are expanded, found more")
            )

    def walk(self, node: _Node, path: Loc, depth: int) -> Any:
        self.visit(node, depth)
        self.parsed.value_marks[path] = node.mark
        if node.kind == "map":
            if node.tag != MAP:
                return self.refuse(node, path, f"expected a plain mapping, found the YAML tag {node.tag}")
            return self.mapping(node, path, depth)
        if node.kind == "seq":
            if node.tag != SEQ:
                return self.refuse(node, path, f"expected a plain list, found the YAML tag {node.tag}")
            return [self.walk(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        try:
            value = scalar(node.tag, node.value)
        except ValueError as exc:
            return self.refuse(node, path, str(exc))
        if isinstance(value, str):
            bad = _CONTROL_IN_VALUE_RE.search(value)
            if bad:
                return self.refuse(node, path, f"expected text without control characters, found {_control_name(bad.group())}")
        elif node.plain and isinstance(value, (bool, type(None))):
            self.parsed.scalar_text[path] = node.value
        return value

    def refuse(self, node: _Node, path: Loc, message: str) -> None:
        self.problem(node.mark, path, message)
        self.parsed.broken.add(path)
        return None

    def key(self, node: _Node, path: Loc, depth: int) -> tuple[bool, Any]:
        """(usable, key) of a key node."""
        self.visit(node, depth)
        if node.kind != "scalar":
            self.problem(node.mark, path, "expected a plain key, found a list or mapping used as a key")
            return False, None
        try:
            key = scalar(node.tag, node.value)
        except ValueError as exc:
            self.problem(node.mark, path, f"expected a readable key, {exc}")
            return False, None
        bad = _CONTROL_IN_VALUE_RE.search(key) if isinstance(key, str) else None
        if bad is not None:
            self.problem(node.mark, path, f"expected a key without control characters, found {_control_name(bad.group())}")
            return False, None
        if key is None:
            key = node.value  # "~: x" or ": x" is a key named by its text
        return True, key

    def mapping(self, node: _Node, path: Loc, depth: int) -> dict[Any, Any]:
        parsed = self.parsed
        result: dict[Any, Any] = {}
        sources: list[_Node] = []
        for key_node, value_node in node.value:
            if key_node.kind == "scalar" and key_node.tag == MERGE:
                self.visit(key_node, depth + 1)
                items = [value_node] if value_node.kind == "map" else value_node.value if value_node.kind == "seq" else [value_node]
                for item in items:
                    if item.kind != "map":
                        self.problem(item.mark, path, "expected a mapping or a list of mappings after '<<' (a merge key), found something else")
                    else:
                        sources.append(item)
                continue
            usable, key = self.key(key_node, path, depth + 1)
            if not usable:
                continue
            child = path + (key,)
            if key in result:
                first = parsed.key_marks[child]
                self.problem(key_node.mark, child, f"expected each key once, found it again (first at line {first.line})")
                continue
            parsed.key_marks[child] = key_node.mark
            result[key] = self.walk(value_node, child, depth + 1)
        # merged mappings: the mapping's own keys win, then the earlier merged mapping
        for source in sources:
            saved = (parsed.value_marks, parsed.key_marks, parsed.scalar_text, parsed.broken)
            parsed.value_marks, parsed.key_marks, parsed.scalar_text, parsed.broken = {}, {}, {}, set()
            try:
                merged = self.walk(source, path, depth + 1)
            finally:
                sub = (parsed.value_marks, parsed.key_marks, parsed.scalar_text, parsed.broken)
                parsed.value_marks, parsed.key_marks, parsed.scalar_text, parsed.broken = saved
            taken = set()
            for key, value in (merged or {}).items():
                if key not in result:
                    result[key] = value
                    taken.add(key)
            n = len(path)
            for mine, theirs in ((saved[0], sub[0]), (saved[1], sub[1])):
                mine.update((loc, v) for loc, v in theirs.items() if len(loc) > n and loc[n] in taken)
            saved[2].update((loc, v) for loc, v in sub[2].items() if len(loc) > n and loc[n] in taken)
            parsed.broken.update(loc for loc in sub[3] if len(loc) > n and loc[n] in taken)
        return result


def scalar(tag: str, text: str) -> Any:
    """The value of a scalar with a resolved tag; ValueError says why it is refused."""
    if tag in (STR, MERGE):  # "<<" merges only as a key: elsewhere it is text
        return text
    if tag == NULL:
        if not _NULL_RE.fullmatch(text):
            raise ValueError(f"expected null for the tag !!null, found {json.dumps(text)}")
        return None
    if tag == BOOL:
        if not _BOOL_RE.fullmatch(text):
            raise ValueError(f"expected true or false for the tag !!bool, found {json.dumps(text)}")
        return text.lower() == "true"
    if tag == INT:
        return _integer(text)
    if tag == FLOAT:
        match = _FLOAT_RE.fullmatch(text)
        if not match:
            if _INT_RE.fullmatch(text):
                return float(_integer(text))
            raise ValueError(f"expected a number for the tag !!float, found {json.dumps(text)}")
        if match.group(5):
            return float(match.group(4) + "inf")
        if match.group(6):
            return float("nan")
        return float(text)
    shown = tag.replace(_TAG, "!!")
    raise ValueError(f"expected a plain value, found the YAML tag {shown}")


def _integer(text: str) -> int:
    match = _INT_RE.fullmatch(text)
    if not match:
        raise ValueError(f"expected a whole number for the tag !!int, found {json.dumps(text)}")
    sign, decimal, octal, hexa = match.groups()
    digits = decimal or octal or hexa
    if decimal is not None and len(decimal) > 1 and decimal.startswith("0"):
        raise ValueError(
            f"expected a number without leading zeros, found {text}: YAML 1.1 reads it as "
            f"{_octal_reading(decimal, sign)}, YAML 1.2 as {sign if sign == '-' else ''}{decimal.lstrip('0') or '0'} "
            "(write the number you mean without the zeros, 0o... for octal, or text in quotes)"
        )
    if len(digits.lstrip("0")) > MAX_DIGITS:
        raise ValueError(f"expected a whole number of at most {MAX_DIGITS} digits, found one of {len(digits)} digits")
    value = int(digits, 10 if decimal is not None else 8 if octal is not None else 16)
    if value >= 10**MAX_DIGITS:
        raise ValueError(f"expected a whole number below 10**{MAX_DIGITS}, found {text}")
    return -value if sign == "-" else value


def _octal_reading(digits: str, sign: str) -> str:
    if set(digits) <= set("01234567") and len(digits) <= MAX_DIGITS:
        return f"the octal number {'-' if sign == '-' else ''}{int(digits, 8)}"
    return "a string"


def parse(text: str, file: str) -> Parsed:
    """One YAML document as data with positions. Raises SpecError when the file cannot be read
    at all; other problems are collected in ``Parsed.problems``."""
    problems = text_problems(text, file)
    if problems:
        raise SpecError(problems)
    root = _document(text, file)
    parsed = Parsed(file, None)
    if root is None:
        raise _stop(Problem(file, 1, 1, "", "expected a mapping of keys, found an empty file"))
    parsed.data = _Walker(parsed).walk(root, (), 0)
    return parsed
