#!/usr/bin/env python3
"""Derive the contract of the Seqera Terraform provider from its own source, offline.

    python3 tools/derive_seqera_provider_schema.py GIT_DIR REF [--out PATH] [--check]

GIT_DIR is a clone of github.com/seqeralabs/terraform-provider-seqera (a bare one will do:
every file is read with ``git show REF:path``, nothing is built or run); REF a tag or commit.
The result, ``tests/contracts/seqera-provider-schema.json``, holds for the few resource types
towergen may render (``COVERED``) every argument path with what Terraform enforces, and
records the repository, the tag and the commit it came from.

Where each fact comes from, most machine-readable first:

* the schema literal Terraform itself is given: ``resp.Schema = schema.Schema{...}`` inside
  the type's ``Schema`` method (Speakeasy-generated ``internal/provider/*_resource.go`` or the
  hand-written ``internal/seqera/*/data_source.go``), read by a small Go expression parser
  (tokens, composite literals, calls, selectors, string concatenation). The type's file is
  found by the name it registers (``req.ProviderTypeName + "_aws_batch_ce"``) and must be
  listed in ``provider.go``;
* the custom validators it names, in ``internal/validators/**``: the sibling a
  ``RequiresSiblingBoolTrue`` rule reads, constants, regular expressions, length limits,
  whether it errors or warns, its diagnostics' titles;
* the API's JSON names of nested config objects: the provider's model structs
  (``internal/provider/types``, ``tfsdk`` tags) joined field by field with the SDK's
  (``internal/sdk/models/shared``, ``json`` tags);
* ``ImportState``: the import ID's form;
* ``provider.go``'s ``Configure``: the environment variable behind each provider argument
  and the default server URL; ``terraform-registry-manifest.json``: the protocol version.

The generated reference (``docs/resources/*.md``, ``docs/data-sources/*.md``, ``docs/index.md``)
is then read as a cross-check: every documented path, its section (Required / Optional /
Read-Only) and its flags (Sensitive, Write-only, Deprecated) must agree with the Go schema, or
the script stops. Anything in the Go literals it does not understand stops it too: a silent
guess would make the contract lie.

``--check`` compares with the file instead of writing it (exit 1 on a difference).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

REPOSITORY = "seqeralabs/terraform-provider-seqera"
MODULE = "github.com/seqeralabs/terraform-provider-seqera/"
REGISTRY_SOURCE = "seqeralabs/seqera"
PROVIDER_NAME = "seqera"

# The types towergen may render, and the look-ups it needs (workspace and organisation by name,
# existing credentials). seqera_compute_env is left out on purpose: the typed
# seqera_aws_batch_ce supersedes it, and importing into it panics (provider issue #226).
COVERED = {
    "resource": ["seqera_aws_batch_ce", "seqera_aws_credential", "seqera_labels"],
    "data": ["seqera_credentials", "seqera_organization", "seqera_workspace"],
}

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "contracts" / "seqera-provider-schema.json"


class DeriveError(Exception):
    """The source is not what this script understands; nothing is written."""


# --------------------------------------------------------------------------------------------
# git


class Repo:
    def __init__(self, git_dir: Path, ref: str):
        self.git_dir = git_dir
        self.ref = ref
        self.commit = self._git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()
        self._cache: dict[str, str] = {}

    def _git(self, *args: str) -> str:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
        )
        if proc.returncode != 0:
            raise DeriveError(f"git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def show(self, path: str) -> str:
        if path not in self._cache:
            self._cache[path] = self._git("show", f"{self.commit}:{path}")
        return self._cache[path]

    def files(self, under: str) -> list[str]:
        out = self._git("ls-tree", "-r", "--name-only", self.commit, "--", under)
        return sorted(line for line in out.splitlines() if line)

    def grep(self, fixed: str, under: str) -> list[str]:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "grep", "-l", "-F", "-e", fixed, self.commit, "--", under],
            capture_output=True,
            text=True,
        )
        if proc.returncode not in (0, 1):
            raise DeriveError(f"git grep {fixed!r}: {proc.stderr.strip()}")
        prefix = f"{self.commit}:"
        return sorted(line[len(prefix):] for line in proc.stdout.splitlines() if line.startswith(prefix))

    def tags_at_commit(self) -> list[str]:
        return sorted(self._git("tag", "--points-at", self.commit).split())

    def commit_date(self) -> str:
        return self._git("log", "-1", "--format=%cI", self.commit).strip()


# --------------------------------------------------------------------------------------------
# Go: tokens


@dataclass
class Tok:
    kind: str  # ident, int, float, string, rune, op
    text: str  # source text (decoded value for strings)
    pos: int
    line: int = 0


_GO_OPS = sorted(
    """<<= >>= &^= ... && || <- ++ -- == != <= >= := += -= *= /= %= &= |= ^= << >> &^
    + - * / % & | ^ < > = ! ( ) [ ] { } , ; . : ~""".split(),
    key=len,
    reverse=True,
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F_]+|[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?")
_SIMPLE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"'}


def _go_unescape(body: str, pos: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1 : i + 2]
        if e in _SIMPLE_ESC:
            out.append(_SIMPLE_ESC[e])
            i += 2
        elif e in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise DeriveError(f"bad \\{e} escape in a Go string at offset {pos}")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif e.isdigit():
            digits = body[i + 1 : i + 4]
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise DeriveError(f"unknown escape \\{e} in a Go string at offset {pos}")
    return "".join(out)


def tokenize(src: str) -> list[Tok]:
    toks = _tokens(src)
    # line numbers, for where Go's newline rules matter (specs of a grouped const or var)
    starts = [m.start() for m in re.finditer("\n", src)]
    k = 0
    for t in toks:
        while k < len(starts) and starts[k] < t.pos:
            k += 1
        t.line = k + 1
    return toks


def _tokens(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in " \t\r\n":
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise DeriveError(f"unterminated comment at offset {i}")
            i = j + 2
        elif c == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise DeriveError(f"unterminated raw string at offset {i}")
            toks.append(Tok("string", src[i + 1 : j].replace("\r", ""), i))
            i = j + 1
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                if src[j] == "\n":
                    raise DeriveError(f"newline in a Go string at offset {i}")
                j += 2 if src[j] == "\\" else 1
            if j >= n:
                raise DeriveError(f"unterminated string at offset {i}")
            toks.append(Tok("string" if c == '"' else "rune", _go_unescape(src[i + 1 : j], i), i))
            i = j + 1
        elif m := _IDENT.match(src, i):
            toks.append(Tok("ident", m.group(), i))
            i = m.end()
        elif (c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit())) and (m := _NUMBER.match(src, i)):
            text = m.group()
            toks.append(Tok("float" if any(x in text for x in ".eE") and not text.startswith("0x") else "int", text, i))
            i = m.end()
        else:
            for op in _GO_OPS:
                if src.startswith(op, i):
                    toks.append(Tok("op", op, i))
                    i += len(op)
                    break
            else:
                raise DeriveError(f"unexpected character {c!r} at offset {i}")
    return toks


# --------------------------------------------------------------------------------------------
# Go: the expressions a schema literal is made of


@dataclass
class Str:
    value: str


@dataclass
class Num:
    value: int | float


@dataclass
class Name:
    """An identifier or a qualified one: true, types.StringType, stringvalidator.OneOf."""

    value: str


@dataclass
class Call:
    func: Any
    args: list


@dataclass
class Sel:
    expr: Any
    name: str


@dataclass
class Lit:
    """A composite literal: ``type`` is its type as text (None when elided)."""

    type: str | None
    elements: list  # [(key or None, value)]

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.elements:
            if not isinstance(key, Name):
                raise DeriveError(f"{self.type}: expected field names, got {render(key)}")
            out[key.value] = value
        return out

    def entries(self) -> list[tuple[str, Any]]:
        out = []
        for key, value in self.elements:
            if not isinstance(key, Str):
                raise DeriveError(f"{self.type}: expected string keys, got {render(key)}")
            out.append((key.value, value))
        return out

    def values(self) -> list:
        if any(key is not None for key, _ in self.elements):
            raise DeriveError(f"{self.type}: expected a list of values")
        return [value for _, value in self.elements]


@dataclass
class Bin:
    op: str
    left: Any
    right: Any


@dataclass
class Unary:
    op: str
    expr: Any


def render(e: Any) -> str:
    """Go-like text of an expression (for messages and for calls kept as they are)."""
    if e is None:
        return "<none>"
    if isinstance(e, Str):
        return json.dumps(e.value)
    if isinstance(e, Num):
        return str(e.value)
    if isinstance(e, Name):
        return e.value
    if isinstance(e, Sel):
        return f"{render(e.expr)}.{e.name}"
    if isinstance(e, Call):
        return f"{render(e.func)}({', '.join(render(a) for a in e.args)})"
    if isinstance(e, Bin):
        return f"{render(e.left)} {e.op} {render(e.right)}"
    if isinstance(e, Unary):
        return f"{e.op}{render(e.expr)}"
    if isinstance(e, Lit):
        return f"{e.type or ''}{{...}}"
    return repr(e)


class Parser:
    BINARY: ClassVar[dict[str, int]] = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "+": 4, "-": 4, "|": 4, "^": 4, "*": 5, "/": 5, "%": 5, "<<": 5, ">>": 5, "&": 5}

    def __init__(self, toks: list[Tok], i: int = 0):
        self.toks = toks
        self.i = i

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def is_op(self, text: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.kind == "op" and t.text == text

    def expect(self, text: str) -> Tok:
        t = self.peek()
        if t is None or t.text != text or t.kind not in ("op", "ident"):
            raise DeriveError(f"expected {text!r} at offset {t.pos if t else 'EOF'}, got {t.text if t else 'EOF'!r}")
        self.i += 1
        return t

    def expr(self, prec: int = 1) -> Any:
        left = self.unary()
        while True:
            t = self.peek()
            if t is None or t.kind != "op" or t.text not in self.BINARY or self.BINARY[t.text] < prec:
                return left
            self.i += 1
            right = self.expr(self.BINARY[t.text] + 1)
            left = Str(left.value + right.value) if t.text == "+" and isinstance(left, Str) and isinstance(right, Str) else Bin(t.text, left, right)

    def unary(self) -> Any:
        t = self.peek()
        if t is not None and t.kind == "op" and t.text in ("&", "-", "!", "*", "^", "+"):
            self.i += 1
            inner = self.unary()
            if t.text == "-" and isinstance(inner, Num):
                return Num(-inner.value)
            return Unary(t.text, inner)
        return self.primary()

    def type_text(self) -> str:
        """A type: []T, map[K]V, *T, a.b, struct{...} is refused."""
        if self.is_op("[") and self.is_op("]", 1):
            self.i += 2
            return "[]" + self.type_text()
        if self.is_op("*"):
            self.i += 1
            return "*" + self.type_text()
        t = self.peek()
        if t is not None and t.kind == "ident" and t.text == "map":
            self.i += 1
            self.expect("[")
            key = self.type_text()
            self.expect("]")
            return f"map[{key}]{self.type_text()}"
        if t is None or t.kind != "ident" or t.text in ("struct", "func", "interface", "chan"):
            raise DeriveError(f"unsupported type at offset {t.pos if t else 'EOF'}")
        self.i += 1
        text = t.text
        while self.is_op(".") and self.peek(1) is not None and self.peek(1).kind == "ident":
            text += "." + self.peek(1).text
            self.i += 2
        return text

    def primary(self) -> Any:
        t = self.peek()
        if t is None:
            raise DeriveError("unexpected end of source in an expression")
        if t.kind == "string":
            self.i += 1
            base: Any = Str(t.text)
        elif t.kind in ("int", "float"):
            self.i += 1
            text = t.text.replace("_", "")
            base = Num(int(text, 0) if t.kind == "int" else float(text))
        elif t.kind == "op" and t.text == "(":
            self.i += 1
            base = self.expr()
            self.expect(")")
        elif (t.kind == "op" and t.text == "[") or (t.kind == "ident" and t.text == "map"):
            typ = self.type_text()
            if not self.is_op("{"):
                raise DeriveError(f"expected a composite literal after {typ} at offset {t.pos}")
            base = self.composite(typ)
        elif t.kind == "op" and t.text == "{":
            base = self.composite(None)
        elif t.kind == "ident":
            if t.text in ("func", "struct", "interface", "chan", "go", "select"):
                raise DeriveError(f"unsupported Go construct {t.text!r} at offset {t.pos}")
            self.i += 1
            base = Name(t.text)
        else:
            raise DeriveError(f"unexpected {t.text!r} at offset {t.pos}")
        while True:
            if self.is_op(".") and self.peek(1) is not None and self.peek(1).kind == "ident":
                name = self.peek(1).text
                self.i += 2
                base = Name(f"{base.value}.{name}") if isinstance(base, Name) else Sel(base, name)
            elif self.is_op(".") and self.is_op("(", 1):
                raise DeriveError(f"type assertion at offset {self.peek().pos} is not supported")
            elif self.is_op("("):
                self.i += 1
                args = []
                while not self.is_op(")"):
                    args.append(self.expr())
                    if self.is_op("..."):
                        self.i += 1
                    if not self.is_op(")"):
                        self.expect(",")
                self.expect(")")
                base = Call(base, args)
            elif self.is_op("{") and isinstance(base, Name):
                base = self.composite(base.value)
            elif self.is_op("["):
                raise DeriveError(f"index expression at offset {self.peek().pos} is not supported")
            else:
                return base

    def composite(self, typ: str | None) -> Lit:
        self.expect("{")
        elements = []
        while not self.is_op("}"):
            first = self.expr()
            if self.is_op(":"):
                self.i += 1
                elements.append((first, self.expr()))
            else:
                elements.append((None, first))
            if not self.is_op("}"):
                self.expect(",")
        self.expect("}")
        return Lit(typ, elements)


# --------------------------------------------------------------------------------------------
# Go: a file's functions, types and imports


class GoFile:
    def __init__(self, path: str, src: str):
        self.path = path
        self.src = src
        self.toks = tokenize(src)

    def _match_brace(self, i: int) -> int:
        """Index of the token closing the bracket at token i."""
        pairs = {"{": "}", "(": ")", "[": "]"}
        opener = self.toks[i].text
        closer = pairs[opener]
        depth = 0
        for j in range(i, len(self.toks)):
            t = self.toks[j]
            if t.kind == "op" and t.text == opener:
                depth += 1
            elif t.kind == "op" and t.text == closer:
                depth -= 1
                if depth == 0:
                    return j
        raise DeriveError(f"{self.path}: unbalanced {opener!r} at offset {self.toks[i].pos}")

    def func_body(self, name: str, receiver_type: str | None = None) -> tuple[int, int] | None:
        """Token range (open brace, close brace) of a function or method, None when absent."""
        toks = self.toks
        found = None
        for i, t in enumerate(toks):
            if t.kind != "ident" or t.text != "func":
                continue
            j = i + 1
            recv = None
            if j < len(toks) and toks[j].text == "(":
                end = self._match_brace(j)
                recv = [x.text for x in toks[j + 1 : end] if x.kind == "ident"]
                j = end + 1
            if j >= len(toks) or toks[j].kind != "ident" or toks[j].text != name:
                continue
            if receiver_type is not None and (not recv or recv[-1] != receiver_type):
                continue
            if receiver_type is None and recv is not None:
                continue
            j += 1
            if toks[j].text != "(":
                continue
            j = self._match_brace(j) + 1
            while j < len(toks) and not (toks[j].kind == "op" and toks[j].text == "{"):
                if toks[j].kind == "op" and toks[j].text == "(":
                    j = self._match_brace(j)
                j += 1
            if found is not None:
                raise DeriveError(f"{self.path}: two definitions of {name}")
            found = (j, self._match_brace(j))
        return found

    def param_names(self, name: str) -> list[str]:
        """Parameter names of a plain function: ``f(a, b string, c int)`` gives a, b, c."""
        for i, t in enumerate(self.toks[:-2]):
            if t.kind == "ident" and t.text == "func" and self.toks[i + 1].text == name and self.toks[i + 2].text == "(":
                end = self._match_brace(i + 2)
                names, segment = [], []
                for tok in self.toks[i + 3 : end] + [Tok("op", ",", -1)]:
                    if tok.kind == "op" and tok.text == ",":
                        if segment:
                            names.append(segment[0])
                        segment = []
                    elif tok.kind == "ident":
                        segment.append(tok.text)
                return names
        raise DeriveError(f"{self.path}: no function {name}")

    def body_text(self, rng: tuple[int, int]) -> str:
        return self.src[self.toks[rng[0]].pos : self.toks[rng[1]].pos + 1]

    def methods(self, name: str) -> list[tuple[str, tuple[int, int]]]:
        """(receiver type, body range) of every method called name."""
        out = []
        for i, t in enumerate(self.toks):
            if t.kind == "ident" and t.text == "func" and i + 1 < len(self.toks) and self.toks[i + 1].text == "(":
                end = self._match_brace(i + 1)
                recv = [x.text for x in self.toks[i + 2 : end] if x.kind == "ident"]
                if end + 1 < len(self.toks) and self.toks[end + 1].text == name and recv:
                    rng = self.func_body(name, recv[-1])
                    if rng:
                        out.append((recv[-1], rng))
        return out

    def struct_fields(self, type_name: str) -> list[tuple[str, str, str]]:
        """(field name, type text, tag) of ``type type_name struct {...}``; [] when absent."""
        m = re.search(rf"^type {re.escape(type_name)} struct \{{\n(.*?)^\}}", self.src, re.M | re.S)
        if not m:
            return []
        out = []
        for line in m.group(1).splitlines():
            line = line.split("//", 1)[0].rstrip() if "`" not in line else line
            fm = re.match(r"^\s*([A-Z]\w*)\s+(\S+)\s*(?:`([^`]*)`)?\s*$", line)
            if fm:
                out.append((fm.group(1), fm.group(2), fm.group(3) or ""))
            elif line.strip() and not line.strip().startswith("//"):
                raise DeriveError(f"{self.path}: unreadable field line in {type_name}: {line.strip()!r}")
        return out

    def imports(self) -> dict[str, str]:
        """Import alias (or last path element) -> import path."""
        out = {}
        m = re.search(r"^import \((.*?)^\)", self.src, re.M | re.S)
        block = m.group(1) if m else ""
        single = re.findall(r'^import\s+(\w+\s+)?"([^"]+)"', self.src, re.M)
        for line in block.splitlines():
            lm = re.match(r'^\s*(\w+\s+)?"([^"]+)"', line)
            if lm:
                single.append((lm.group(1) or "", lm.group(2)))
        for alias, path in single:
            out[alias.strip() or path.rsplit("/", 1)[-1]] = path
        return out

    def top_level(self, keyword: str) -> dict[str, Any]:
        """``const``/``var`` names declared at the top of the file -> their parsed values (None
        for a value the expression parser does not read, or for a spec without one)."""
        out: dict[str, Any] = {}
        toks = self.toks
        depth = 0
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "op" and t.text in "{([":
                depth += 1
            elif t.kind == "op" and t.text in "})]":
                depth -= 1
            elif depth == 0 and t.kind == "ident" and t.text == keyword:
                grouped = toks[i + 1].text == "("
                end = self._match_brace(i + 1) if grouped else len(toks)
                j = i + 2 if grouped else i + 1
                while j < end and toks[j].kind == "ident":
                    name, line, j = toks[j].text, toks[j].line, j + 1
                    same_line = toks[j].line == line
                    if same_line and (toks[j].kind == "ident" or (toks[j].kind == "op" and toks[j].text in "[*")):
                        p = Parser(toks, j)  # a type: var x T = ...
                        p.type_text()
                        j = p.i
                    value = None
                    if toks[j].kind == "op" and toks[j].text == "=" and toks[j].line == line:
                        p = Parser(toks, j + 1)
                        try:
                            value = p.expr()
                            j = p.i
                        except DeriveError:
                            value = None
                            j = end if grouped else len(toks)
                    out[name] = value
                    if not grouped:
                        break
                i = end + 1 if grouped else j
                continue
            i += 1
        return out


# --------------------------------------------------------------------------------------------
# the schema literal


ATTRIBUTE_KINDS = {
    "StringAttribute": "string",
    "BoolAttribute": "bool",
    "Int32Attribute": "int32",
    "Int64Attribute": "int64",
    "Float32Attribute": "float32",
    "Float64Attribute": "float64",
    "NumberAttribute": "number",
    "ListAttribute": "list",
    "SetAttribute": "set",
    "MapAttribute": "map",
    "ObjectAttribute": "object",
    "DynamicAttribute": "dynamic",
    "SingleNestedAttribute": "single_nested",
    "ListNestedAttribute": "list_nested",
    "SetNestedAttribute": "set_nested",
    "MapNestedAttribute": "map_nested",
}
ELEMENT_TYPES = {
    "types.StringType": "string",
    "types.BoolType": "bool",
    "types.Int32Type": "int32",
    "types.Int64Type": "int64",
    "types.Float64Type": "float64",
    "types.NumberType": "number",
}
# fields of an attribute literal that carry no contract (type plumbing)
IGNORED_FIELDS = {"CustomType"}
KNOWN_FIELDS = {
    "Required", "Optional", "Computed", "Sensitive", "WriteOnly", "DeprecationMessage",
    "Description", "MarkdownDescription", "Validators", "PlanModifiers", "Default",
    "ElementType", "Attributes", "NestedObject",
} | IGNORED_FIELDS


@dataclass
class Context:
    repo: Repo
    gofile: GoFile
    validators: dict = field(default_factory=dict)  # custom validator name -> facts, shared


def _bool(e: Any, where: str) -> bool:
    if isinstance(e, Name) and e.value in ("true", "false"):
        return e.value == "true"
    raise DeriveError(f"{where}: expected true or false, got {render(e)}")


def _call_name(e: Any, where: str) -> str:
    if isinstance(e, Unary) and e.op == "&":
        e = e.expr
    if isinstance(e, Call) and isinstance(e.func, Name):
        return e.func.value
    if isinstance(e, Lit) and e.type:
        return e.type
    raise DeriveError(f"{where}: expected a call, got {render(e)}")


def _const(e: Any, consts: dict[str, Any] | None = None) -> Any:
    if isinstance(e, (Str, Num)):
        return e.value
    if isinstance(e, Name) and e.value in ("true", "false"):
        return e.value == "true"
    if isinstance(e, Name) and consts and e.value in consts:
        return _const(consts[e.value], consts)
    if isinstance(e, Call) and isinstance(e.func, Name) and e.func.value == "regexp.MustCompile" and len(e.args) == 1:
        return _const(e.args[0], consts)
    return None


KNOWN_PLAN_MODIFIERS = re.compile(
    r"^(speakeasy_)?\w+planmodifier\.(RequiresReplace|RequiresReplaceIfConfigured|RequiresReplaceIf|SuppressDiff|UseStateForUnknown)$"
)


def plan_modifier_facts(mods: list[str], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    unknown = [m for m in mods if not KNOWN_PLAN_MODIFIERS.match(m)]
    if unknown:
        raise DeriveError(f"{where}: plan modifiers this script does not know: {unknown}")
    replace = [m.rsplit(".", 1)[-1] for m in mods if ".RequiresReplace" in m]
    if len(replace) > 1:
        raise DeriveError(f"{where}: two RequiresReplace modifiers: {mods}")
    if replace:
        out["requires_replace"] = {
            "RequiresReplace": "always",
            "RequiresReplaceIfConfigured": "if_configured",
            "RequiresReplaceIf": "conditional",
        }.get(replace[0])
        if out["requires_replace"] is None:
            raise DeriveError(f"unknown replace modifier {replace[0]}")
    # Speakeasy's SuppressDiff: an unknown plan value takes the state's (UseStateForUnknown);
    # for an Optional+Computed argument, removing it from the configuration keeps the old value.
    if any(m.endswith((".SuppressDiff", ".UseStateForUnknown")) for m in mods):
        out["keeps_state_when_unknown"] = True
    return out


def default_value(e: Any, where: str) -> Any:
    name = _call_name(e, where)
    if not re.fullmatch(r"\w+default\.Static\w+", name) or len(e.args) != 1:
        raise DeriveError(f"{where}: unsupported default {render(e)}")
    value = _const(e.args[0])
    if value is None:
        raise DeriveError(f"{where}: unsupported default {render(e)}")
    return value


def parse_attributes(ctx: Context, lit: Any, prefix: str, out: dict[str, dict]) -> None:
    if not isinstance(lit, Lit) or not (lit.type or "").startswith("map[string]"):
        raise DeriveError(f"{prefix or 'schema'}: Attributes is not a map literal")
    for name, value in lit.entries():
        path = f"{prefix}.{name}" if prefix else name
        parse_attribute(ctx, value, path, out)


def parse_attribute(ctx: Context, lit: Any, path: str, out: dict[str, dict]) -> None:
    if not isinstance(lit, Lit) or not lit.type:
        raise DeriveError(f"{path}: expected an attribute literal")
    short = lit.type.rsplit(".", 1)[-1]
    if short not in ATTRIBUTE_KINDS:
        raise DeriveError(f"{path}: unsupported attribute type {lit.type}")
    fields_ = lit.fields()
    unknown = set(fields_) - KNOWN_FIELDS
    if unknown:
        raise DeriveError(f"{path}: unsupported attribute fields {sorted(unknown)}")
    kind = ATTRIBUTE_KINDS[short]
    attr: dict[str, Any] = {"type": kind}
    for flag in ("Required", "Optional", "Computed", "Sensitive", "WriteOnly"):
        value = _bool(fields_[flag], f"{path}.{flag}") if flag in fields_ else False
        if value or flag in ("Required", "Optional", "Computed"):  # the rare two only when set
            attr[_snake(flag)] = value
    if "DeprecationMessage" in fields_:
        attr["deprecated"] = _const(fields_["DeprecationMessage"])
    desc = fields_.get("MarkdownDescription", fields_.get("Description"))
    if desc is not None:
        text = _const(desc)
        if not isinstance(text, str):
            raise DeriveError(f"{path}: description is not a constant string")
        attr["description"] = text
    if "Default" in fields_:
        attr["default"] = default_value(fields_["Default"], f"{path}.Default")
    if "ElementType" in fields_:
        et = fields_["ElementType"]
        if not isinstance(et, Name) or et.value not in ELEMENT_TYPES:
            raise DeriveError(f"{path}: unsupported element type {render(et)}")
        attr["element_type"] = ELEMENT_TYPES[et.value]
    if "PlanModifiers" in fields_:
        mods = [_call_name(m, f"{path}.PlanModifiers") for m in fields_["PlanModifiers"].values()]
        attr.update(plan_modifier_facts(mods, path))
    if "Validators" in fields_:
        attr["validators"] = [validator_facts(ctx, v, path) for v in fields_["Validators"].values()]
    out[path] = attr
    if kind == "single_nested":
        if "Attributes" not in fields_:
            raise DeriveError(f"{path}: nested attribute without Attributes")
        parse_attributes(ctx, fields_["Attributes"], path, out)
    elif kind in ("list_nested", "set_nested", "map_nested"):
        nested = fields_.get("NestedObject")
        if not isinstance(nested, Lit):
            raise DeriveError(f"{path}: nested attribute without NestedObject")
        nf = nested.fields()
        unknown = set(nf) - {"Attributes", "Validators", "PlanModifiers", "CustomType"}
        if unknown:
            raise DeriveError(f"{path}: unsupported NestedObject fields {sorted(unknown)}")
        if "Validators" in nf:
            attr["element_validators"] = [validator_facts(ctx, v, path) for v in nf["Validators"].values()]
        if "PlanModifiers" in nf:
            # an element's own RequiresReplace adds nothing to the list's: recorded only
            element = plan_modifier_facts([_call_name(m, path) for m in nf["PlanModifiers"].values()], path)
            attr["element_requires_replace"] = element.get("requires_replace")
        parse_attributes(ctx, nf["Attributes"], path, out)
    elif "Attributes" in fields_ or "NestedObject" in fields_:
        raise DeriveError(f"{path}: {kind} with nested attributes")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def schema_of(ctx: Context, receiver: str) -> tuple[dict[str, dict], dict[str, Any]]:
    rng = ctx.gofile.func_body("Schema", receiver)
    if rng is None:
        raise DeriveError(f"{ctx.gofile.path}: no Schema method on {receiver}")
    toks = ctx.gofile.toks
    start = None
    for i in range(rng[0], rng[1]):
        if [t.text for t in toks[i : i + 4]] == ["resp", ".", "Schema", "="]:
            if start is not None:
                raise DeriveError(f"{ctx.gofile.path}: two schema assignments")
            start = i + 4
    if start is None:
        raise DeriveError(f"{ctx.gofile.path}: no resp.Schema assignment in Schema")
    lit = Parser(toks, start).expr()
    if not isinstance(lit, Lit) or lit.type != "schema.Schema":
        raise DeriveError(f"{ctx.gofile.path}: resp.Schema is not a schema.Schema literal")
    top = lit.fields()
    unknown = set(top) - {"Attributes", "MarkdownDescription", "Description", "Version", "DeprecationMessage"}
    if unknown:
        raise DeriveError(f"{ctx.gofile.path}: unsupported schema fields {sorted(unknown)} (blocks are not handled)")
    attrs: dict[str, dict] = {}
    parse_attributes(ctx, top["Attributes"], "", attrs)
    meta: dict[str, Any] = {}
    if "Version" in top:
        meta["schema_version"] = _const(top["Version"])
    if "DeprecationMessage" in top:
        meta["deprecated"] = _const(top["DeprecationMessage"])
    return attrs, meta


# --------------------------------------------------------------------------------------------
# validators

STANDARD_VALIDATORS = {
    "OneOf": lambda args: {"kind": "one_of", "values": [_const(a) for a in args]},
    "NoneOf": lambda args: {"kind": "none_of", "values": [_const(a) for a in args]},
    "RegexMatches": lambda args: {"kind": "regex", "pattern": _const(args[0])},
    "UTF8LengthAtMost": lambda args: {"kind": "utf8_length", "max": _const(args[0])},
    "UTF8LengthAtLeast": lambda args: {"kind": "utf8_length", "min": _const(args[0])},
    "UTF8LengthBetween": lambda args: {"kind": "utf8_length", "min": _const(args[0]), "max": _const(args[1])},
    "LengthAtMost": lambda args: {"kind": "byte_length", "max": _const(args[0])},
    "LengthAtLeast": lambda args: {"kind": "byte_length", "min": _const(args[0])},
    "LengthBetween": lambda args: {"kind": "byte_length", "min": _const(args[0]), "max": _const(args[1])},
    "Between": lambda args: {"kind": "range", "min": _const(args[0]), "max": _const(args[1])},
    "AtLeast": lambda args: {"kind": "range", "min": _const(args[0])},
    "AtMost": lambda args: {"kind": "range", "max": _const(args[0])},
    "SizeAtLeast": lambda args: {"kind": "size", "min": _const(args[0])},
    "SizeAtMost": lambda args: {"kind": "size", "max": _const(args[0])},
    "SizeBetween": lambda args: {"kind": "size", "min": _const(args[0]), "max": _const(args[1])},
    "UniqueValues": lambda args: {"kind": "unique_values"},
}
FRAMEWORK_VALIDATOR_PACKAGES = re.compile(r"^(string|bool|int32|int64|float32|float64|number|list|set|map|object)validator$")


def validator_facts(ctx: Context, e: Any, where: str) -> dict[str, Any]:
    if not isinstance(e, Call) or not isinstance(e.func, Name) or "." not in e.func.value:
        raise DeriveError(f"{where}: unsupported validator {render(e)}")
    pkg, func = e.func.value.rsplit(".", 1)
    imports = ctx.gofile.imports()
    if pkg not in imports:
        raise DeriveError(f"{where}: validator package {pkg} is not imported")
    ipath = imports[pkg]
    if ipath.startswith("github.com/hashicorp/terraform-plugin-framework-validators/"):
        if not FRAMEWORK_VALIDATOR_PACKAGES.match(pkg) or func not in STANDARD_VALIDATORS:
            raise DeriveError(f"{where}: unknown framework validator {pkg}.{func}")
        facts = STANDARD_VALIDATORS[func](e.args)
        if any(v is None for v in facts.values()) or None in facts.get("values", []):
            raise DeriveError(f"{where}: non-constant arguments in {render(e)}")
        facts["go"] = f"{pkg}.{func}"
        return facts
    if not ipath.startswith(MODULE):
        raise DeriveError(f"{where}: validator from an unknown module {ipath}")
    if func == "NotNull" and not e.args:
        return {"kind": "not_null", "go": f"{pkg}.{func}"}
    if e.args:
        raise DeriveError(f"{where}: custom validator {func} takes arguments")
    directory = ipath[len(MODULE):]
    known = ctx.validators.get(func)
    if known is None:
        ctx.validators[func] = custom_validator_facts(ctx.repo, directory, func)
    elif known["file"].rsplit("/", 1)[0] != directory:
        raise DeriveError(f"{where}: two custom validators called {func}")
    return {"kind": "custom", "name": func}


def _go_files(repo: Repo, directory: str) -> list[GoFile]:
    return [GoFile(p, repo.show(p)) for p in repo.files(directory) if p.endswith(".go") and not p.endswith("_test.go") and p.count("/") == directory.count("/") + 1]


def _sprintf(fmt: str, args: list[Any]) -> str:
    it = iter(args)

    def sub(m: re.Match) -> str:
        verb = m.group(1)
        if verb == "%":
            return "%"
        value = next(it)
        return json.dumps(value) if verb == "q" else str(value)

    return re.sub(r"%([dsvq%])", sub, fmt)


def custom_validator_facts(repo: Repo, directory: str, func: str) -> dict[str, Any]:
    files = _go_files(repo, directory)
    owners = [f for f in files if f.func_body(func) is not None]
    if len(owners) != 1:
        raise DeriveError(f"custom validator {func}: found in {len(owners)} files of {directory}")
    gf = owners[0]
    body = gf.func_body(func)
    toks = gf.toks[body[0] + 1 : body[1]]
    if not toks or toks[0].text != "return":
        raise DeriveError(f"{gf.path}: {func} is not a single return")
    ret = Parser(gf.toks, body[0] + 2).expr()
    facts: dict[str, Any] = {"file": gf.path}
    if isinstance(ret, Call) and isinstance(ret.func, Name) and "." not in ret.func.value:
        # a rule built by another constructor of the package, e.g. RequiresSiblingBoolTrue(...)
        inner = ret.func.value
        args = [_const(a) for a in ret.args]
        if any(a is None for a in args):
            raise DeriveError(f"{gf.path}: non-constant arguments to {inner}")
        facts["rule"] = inner
        impl = [f for f in files if f.func_body(inner) is not None]
        if len(impl) != 1:
            raise DeriveError(f"{directory}: {inner} defined {len(impl)} times")
        params = impl[0].param_names(inner)
        if len(params) != len(args):
            raise DeriveError(f"{gf.path}: {inner} takes {params}, given {len(args)} arguments")
        facts["args"] = dict(zip(params, args, strict=False))
        facts.update(_validator_type_facts(impl[0], _returned_type(impl[0], inner)))
        facts["file"] = gf.path
        facts["rule_file"] = impl[0].path
        return facts
    if isinstance(ret, Lit) and ret.type and not ret.elements:
        facts.update(_validator_type_facts(gf, ret.type))
        return facts
    raise DeriveError(f"{gf.path}: {func} returns {render(ret)}, not a validator value")


def _returned_type(gf: GoFile, func: str) -> str:
    body = gf.func_body(func)
    ret = Parser(gf.toks, body[0] + 2).expr()
    if isinstance(ret, Lit) and ret.type:
        return ret.type
    raise DeriveError(f"{gf.path}: {func} does not return a validator literal")


def _validator_type_facts(gf: GoFile, type_name: str) -> dict[str, Any]:
    consts = gf.top_level("const")
    variables = gf.top_level("var")
    facts: dict[str, Any] = {}
    desc_rng = gf.func_body("Description", type_name)
    if desc_rng is None:
        raise DeriveError(f"{gf.path}: {type_name} has no Description method")
    ret = Parser(gf.toks, desc_rng[0] + 2).expr()
    description = _const(ret, consts)
    if description is None and isinstance(ret, Name) and isinstance(variables.get(ret.value), Call):
        call = variables[ret.value]
        if isinstance(call.func, Name) and call.func.value == "fmt.Sprintf":
            args = [_const(a, consts) for a in call.args]
            if None not in args:
                description = _sprintf(args[0], args[1:])
    if description is not None:
        facts["description"] = description
    numbers = {k: _const(v) for k, v in consts.items() if isinstance(_const(v), (int, float))}
    if numbers:
        facts["constants"] = numbers
    patterns: dict[str, str] = {}
    for name, value in list(variables.items()):
        if isinstance(value, Call) and isinstance(value.func, Name) and value.func.value == "regexp.MustCompile":
            patterns[name] = _const(value.args[0])
    text = gf.src
    for m in re.finditer(r"(\w+)\s*:?=\s*regexp\.MustCompile\(`([^`]*)`\)", text):
        patterns.setdefault(m.group(1), m.group(2))
    if patterns:
        facts["patterns"] = patterns
    lengths = [
        {"op": m.group(1), "value": int(m.group(2))}
        for m in re.finditer(r"len\(\w+\)\s*([<>]=?)\s*(\d+)", text)
    ]
    if lengths:
        facts["length_checks"] = lengths
    severities = set()
    if re.search(r"\.Add(Attribute)?Error\(", text):
        severities.add("error")
    if re.search(r"\.Add(Attribute)?Warning\(", text):
        severities.add("warning")
    if not severities:
        raise DeriveError(f"{gf.path}: {type_name} reports nothing")
    facts["severity"] = "+".join(sorted(severities))
    # the attributes it names (paths it reads or reports on); it may read more through the
    # config object's struct fields
    named = sorted(set(re.findall(r'AtName\("(\w+)"\)', text)))
    if named:
        facts["attribute_names"] = named
    titles = []
    for m in re.finditer(r"\.Add(?:Attribute)?(?:Error|Warning)\(\s*(?:[^,]+,\s*)?\"([^\"]+)\"", text):
        titles.append(m.group(1))
    if titles:
        facts["titles"] = sorted(set(titles))
    return facts


# --------------------------------------------------------------------------------------------
# types: where they live, their import ID, the API names of nested config objects


@dataclass
class TypeSource:
    kind: str  # resource | data
    name: str
    gofile: GoFile
    receiver: str


def find_type(repo: Repo, kind: str, name: str) -> TypeSource:
    suffix = name[len(PROVIDER_NAME):]
    needle = f'req.ProviderTypeName + "{suffix}"'
    request = "resource.MetadataRequest" if kind == "resource" else "datasource.MetadataRequest"
    hits = []
    for path in repo.grep(needle, "internal"):
        if path.endswith("_test.go"):
            continue
        gf = GoFile(path, repo.show(path))
        for receiver, rng in gf.methods("Metadata"):
            body = gf.body_text(rng)
            sig = gf.src[: gf.toks[rng[0]].pos].rsplit("func", 1)[-1]
            if needle in body and request in sig:
                hits.append(TypeSource(kind, name, gf, receiver))
    if len(hits) != 1:
        raise DeriveError(f"{kind} {name}: {len(hits)} definitions found")
    return hits[0]


def check_registered(repo: Repo, ts: TypeSource) -> str:
    """The constructor of the type, which provider.go must list."""
    iface = "resource.Resource" if ts.kind == "resource" else "datasource.DataSource"
    ctors = re.findall(rf"^func (New\w*)\(\) {re.escape(iface)} \{{\s*\n\s*return &{re.escape(ts.receiver)}\{{\}}", ts.gofile.src, re.M)
    if len(ctors) != 1:
        raise DeriveError(f"{ts.gofile.path}: no single constructor of {ts.receiver}")
    provider = GoFile("internal/provider/provider.go", repo.show("internal/provider/provider.go"))
    listing = provider.func_body("Resources" if ts.kind == "resource" else "DataSources", "SeqeraProvider")
    if listing is None:
        raise DeriveError("provider.go: no Resources/DataSources method")
    body = provider.body_text(listing)
    if ts.gofile.path.startswith("internal/provider/"):
        ref = ctors[0]
    else:
        package_path = MODULE + ts.gofile.path.rsplit("/", 1)[0]
        aliases = [a for a, p in provider.imports().items() if p == package_path]
        if len(aliases) != 1:
            raise DeriveError(f"provider.go does not import {package_path}")
        ref = f"{aliases[0]}.{ctors[0]}"
    if not re.search(rf"(?<![\w.]){re.escape(ref)},", body):
        raise DeriveError(f"{ts.name}: {ref} is not registered in provider.go")
    return ref


def import_facts(ts: TypeSource) -> dict[str, Any]:
    rng = ts.gofile.func_body("ImportState", ts.receiver)
    if rng is None:
        return {"supported": False, "reason": "no ImportState method"}
    body = ts.gofile.body_text(rng)
    if m := re.search(r'AddError\("Not Implemented",\s*"([^"]*)"', body):
        return {"supported": False, "reason": m.group(1)}
    if m := re.search(r'ImportStatePassthroughID\(ctx,\s*path\.Root\("(\w+)"\)', body):
        return {"supported": True, "format": "passthrough", "attribute": m.group(1)}
    sm = re.search(r"var data struct \{(.*?)\}", body, re.S)
    if sm and "json.NewDecoder" in body:
        fields_ = re.findall(r'`json:"(\w+)"`', sm.group(1))
        required = re.findall(r"The field (\w+) is required", body)
        if not fields_:
            raise DeriveError(f"{ts.gofile.path}: import struct without json fields")
        return {
            "supported": True,
            "format": "json",
            "fields": fields_,
            "required_fields": sorted(set(required)),
            "unknown_fields_rejected": "DisallowUnknownFields" in body,
        }
    raise DeriveError(f"{ts.gofile.path}: unrecognised ImportState")


def api_names(repo: Repo, ts: TypeSource, attrs: dict[str, dict]) -> dict[str, str]:
    """Nested config attribute path -> API struct name; sets ``api_name`` on each attribute.

    The resource model's fields typed ``*tfTypes.X`` / ``[]tfTypes.X`` name a struct of
    internal/provider/types (tfsdk tags); the SDK has a struct of the same name in
    internal/sdk/models/shared (json tags); the Go field name joins the two."""
    model = f"{ts.receiver}Model"
    structs: dict[str, str] = {}
    fields_ = ts.gofile.struct_fields(model)
    if not fields_:
        return structs

    def tag(tagtext: str, key: str) -> str | None:
        m = re.search(rf'{key}:"([^",]+)', tagtext)
        return m.group(1) if m else None

    def walk(type_text: str, path: str) -> None:
        name = re.sub(r"^(\*|\[\])*(tfTypes\.)?", "", type_text)
        if not re.fullmatch(r"[A-Z]\w*", name):
            return
        tf_paths = repo.grep(f"type {name} struct", "internal/provider/types")
        sdk_paths = repo.grep(f"type {name} struct", "internal/sdk/models/shared")
        if len(tf_paths) != 1 or len(sdk_paths) != 1:
            return
        tf_fields = GoFile(tf_paths[0], repo.show(tf_paths[0])).struct_fields(name)
        sdk_fields = {f: tag(t, "json") for f, _, t in GoFile(sdk_paths[0], repo.show(sdk_paths[0])).struct_fields(name)}
        structs[path] = name
        for go_name, go_type, tagtext in tf_fields:
            tf_name = tag(tagtext, "tfsdk")
            if tf_name in (None, "-"):
                continue
            child = f"{path}.{tf_name}"
            if child not in attrs:
                raise DeriveError(f"{ts.name}: {name}.{go_name} has tfsdk {tf_name!r}, not in the schema")
            if go_name not in sdk_fields:
                raise DeriveError(f"{ts.name}: shared.{name} has no field {go_name}")
            attrs[child]["api_name"] = sdk_fields[go_name]
            walk(go_type, child)

    for _go_name, go_type, tagtext in fields_:
        tf_name = tag(tagtext, "tfsdk")
        if tf_name and "tfTypes." in go_type:
            walk(go_type, tf_name)
    return structs


# --------------------------------------------------------------------------------------------
# the generated reference, as a cross-check


def doc_paths(markdown: str, where: str) -> dict[str, dict[str, Any]]:
    """path -> {"section": required|optional|read_only, "flags": [...]}, from tfplugindocs."""
    if "## Schema" not in markdown:
        raise DeriveError(f"{where}: no Schema section")
    text = markdown.split("## Schema", 1)[1]
    text = re.split(r"^## (?!#)", text, flags=re.M)[0]
    out: dict[str, dict[str, Any]] = {}
    prefix = ""
    section = None
    for line in text.splitlines():
        if m := re.match(r"^### Nested Schema for `([^`]+)`", line):
            prefix = m.group(1)
            section = None
        elif m := re.match(r"^#{0,3}\s*(Required|Optional|Read-Only):?\s*$", line):
            section = {"Required": "required", "Optional": "optional", "Read-Only": "read_only"}[m.group(1)]
        elif m := re.match(r"^- `([^`]+)` \(([^)]*(?:\([^)]*\)[^)]*)*)\)", line):
            if section is None:
                raise DeriveError(f"{where}: attribute {m.group(1)} outside a section")
            path = f"{prefix}.{m.group(1)}" if prefix else m.group(1)
            flags = [f.strip() for f in m.group(2).split(",")]
            out[path] = {"section": section, "flags": flags}
    return out


def cross_check(attrs: dict[str, dict], docs: dict[str, dict[str, Any]], where: str) -> None:
    problems = []
    for path in sorted(set(attrs) | set(docs)):
        a, d = attrs.get(path), docs.get(path)
        if a is None or d is None:
            problems.append(f"{path}: {'only in the docs' if a is None else 'only in the Go schema'}")
            continue
        section = "required" if a["required"] else "optional" if a["optional"] else "read_only"
        if section != d["section"]:
            problems.append(f"{path}: {section} in Go, {d['section']} in the docs")
        flags = " ".join(d["flags"])
        for key, word in (("sensitive", "Sensitive"), ("write_only", "Write-only"), ("deprecated", "Deprecated")):
            if bool(a.get(key)) != (word in flags):
                problems.append(f"{path}: {key} disagrees ({a.get(key)!r} vs docs {d['flags']})")
    if problems:
        raise DeriveError(f"{where} disagrees with the Go schema:\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------------------------
# the provider block


def provider_facts(repo: Repo) -> dict[str, Any]:
    gf = GoFile("internal/provider/provider.go", repo.show("internal/provider/provider.go"))
    ctx = Context(repo, gf)
    attrs, _ = schema_of(ctx, "SeqeraProvider")
    cross_check(attrs, doc_paths(repo.show("docs/index.md"), "docs/index.md"), "docs/index.md")
    model = {f: re.search(r'tfsdk:"(\w+)"', t).group(1) for f, _, t in gf.struct_fields("SeqeraProviderModel")}
    rng = gf.func_body("Configure", "SeqeraProvider")
    body = gf.body_text(rng)
    env = {}
    for var, name, target in re.findall(r'if (\w+) := os\.Getenv\("(\w+)"\); security\.(\w+) == ""', body):
        if f"security.{target} = {var}" not in body:
            raise DeriveError("provider.go: an environment variable read but not assigned")
        env[model[target]] = name
    if re.findall(r"os\.Getenv\(", body).__len__() != len(env):
        raise DeriveError("provider.go: an os.Getenv the script does not understand")
    for path, a in attrs.items():
        if path in env:
            a["env"] = env[path]
    m = re.search(r'if serverUrl == "" \{\s*serverUrl = "([^"]+)"', body)
    if not m:
        raise DeriveError("provider.go: no default server URL")
    attrs["server_url"]["default"] = m.group(1)
    manifest = json.loads(repo.show("terraform-registry-manifest.json"))
    return {
        "attributes": attrs,
        "protocol_versions": manifest["metadata"]["protocol_versions"],
        "registry_source": REGISTRY_SOURCE,
    }


def all_type_names(repo: Repo) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {"resource": set(), "data": set()}
    for path in repo.grep("req.ProviderTypeName + \"", "internal"):
        if path.endswith("_test.go"):
            continue
        gf = GoFile(path, repo.show(path))
        for _receiver, rng in gf.methods("Metadata"):
            sig = gf.src[: gf.toks[rng[0]].pos].rsplit("func", 1)[-1]
            m = re.search(r'req\.ProviderTypeName \+ "(_\w+)"', gf.body_text(rng))
            if not m:
                continue
            kind = "data" if "datasource.MetadataRequest" in sig else "resource"
            out[kind].add(PROVIDER_NAME + m.group(1))
    return {k: sorted(v) for k, v in out.items()}


# --------------------------------------------------------------------------------------------


def derive(git_dir: Path, ref: str) -> dict[str, Any]:
    repo = Repo(git_dir, ref)
    tags = repo.tags_at_commit()
    version_tags = [t for t in tags if re.fullmatch(r"v\d+\.\d+\.\d+", t)]
    if ref in tags:
        tag = ref
    elif len(version_tags) == 1:
        tag = version_tags[0]
    else:
        tag = None
    result: dict[str, Any] = {
        "source": {
            "repository": REPOSITORY,
            "ref": ref,
            "tag": tag,
            "commit": repo.commit,
            "commit_date": repo.commit_date(),
            "derived_by": "tools/derive_seqera_provider_schema.py",
        },
        "provider": provider_facts(repo),
        "types": all_type_names(repo),
    }
    if tag:
        result["provider"]["version"] = tag.lstrip("v")
    validators: dict[str, Any] = {}
    for kind, names in COVERED.items():
        section: dict[str, Any] = {}
        for name in names:
            ts = find_type(repo, kind, name)
            ctx = Context(repo, ts.gofile, validators)
            attrs, meta = schema_of(ctx, ts.receiver)
            doc = f"docs/{'resources' if kind == 'resource' else 'data-sources'}/{name[len(PROVIDER_NAME) + 1:]}.md"
            cross_check(attrs, doc_paths(repo.show(doc), doc), doc)
            entry: dict[str, Any] = {
                "go_file": ts.gofile.path,
                "registered_as": check_registered(repo, ts),
                "docs_file": doc,
                "attributes": attrs,
                **meta,
            }
            if kind == "resource":
                entry["import"] = import_facts(ts)
                structs = api_names(repo, ts, attrs)
                if structs:
                    entry["api_structs"] = structs
            section[name] = entry
        result["resources" if kind == "resource" else "data_sources"] = section
    result["validators"] = validators
    return result


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("git_dir", type=Path, help="the provider's git directory (bare is fine)")
    ap.add_argument("ref", help="a tag (v0.42.0) or a commit")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = ap.parse_args(argv)
    try:
        text = dumps(derive(args.git_dir, args.ref))
    except DeriveError as exc:
        print(f"derive_seqera_provider_schema: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} differs from what {args.ref} gives; re-run without --check", file=sys.stderr)
            return 1
        print(f"{args.out} matches {args.ref}")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} from {REPOSITORY} {args.ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
