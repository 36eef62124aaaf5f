"""The one escaping layer: every value that came from YAML reaches HCL, a Terraform template,
shell, Groovy (nextflow.config) or JSON through a function in this module, and nowhere else.

Each function returns a *marked* string (a ``str`` subclass). The Jinja environments refuse to
print anything that does not carry the mark of their output language (see ``templating.py``),
so a raw YAML value cannot reach a rendered file by accident.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping

__all__ = [
    "Comment",
    "Groovy",
    "Hcl",
    "Sh",
    "ShTpl",
    "comment",
    "groovy",
    "groovy_string",
    "hcl",
    "hcl_ident",
    "hcl_key",
    "hcl_list",
    "hcl_map",
    "hcl_ref",
    "hcl_string",
    "hcl_string_with_refs",
    "hcl_unquote",
    "sh",
    "sh_tpl",
    "tftpl_escape",
    "tpl_var",
]


class Hcl(str):
    """A complete, valid HCL expression (or identifier)."""


class Sh(str):
    """A shell word: safe to paste into a POSIX shell command line."""


class Groovy(str):
    """A Groovy/Nextflow-config literal."""


# --- HCL -----------------------------------------------------------------------------------------

_HCL_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _plain_ascii(value: str, specials: str) -> bool:
    """Printable ASCII (space to ``~``) without any of ``specials``: a literal needs no escape."""
    return value.isascii() and value.isprintable() and not any(ch in value for ch in specials)


def _is_control(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or 0x7F <= o <= 0x9F or ch in "\u2028\u2029"


def hcl_string(value: str) -> Hcl:
    """Quote ``value`` as an HCL string literal that Terraform and python-hcl2 read back exactly.

    - ``\\``, ``"`` and control characters are backslash-escaped;
    - ``${`` and ``%{`` (template introducers) become ``$${`` and ``%%{``. python-hcl2 (8.x) only
      tokenises ``$${``/``%%{`` when a ``}`` follows later in the same string; where none does,
      the brace is written as ``\\u007b`` instead, which both Terraform and python-hcl2 decode to
      a literal ``{`` without starting a template sequence.
    """
    if not isinstance(value, str):
        raise TypeError(f"hcl_string needs a str, got {type(value).__name__}")
    if _plain_ascii(value, '\\"') and "${" not in value and "%{" not in value:
        return Hcl('"' + value + '"')  # the common case, with nothing to escape
    out: list[str] = []
    n = len(value)
    i = 0
    while i < n:
        ch = value[i]
        if ch in "$%" and i + 1 < n and value[i + 1] == "{":
            if "}" in value[i + 2 :]:
                out.append(ch + ch + "{")
            else:
                out.append(ch + "\\u007b")
            i += 2
            continue
        if ch in _HCL_SIMPLE_ESCAPES:
            out.append(_HCL_SIMPLE_ESCAPES[ch])
        elif _is_control(ch):
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError("lone surrogate code points cannot be written as UTF-8")
        else:
            out.append(ch)
        i += 1
    return Hcl('"' + "".join(out) + '"')


_UNQUOTE_RE = re.compile(r'\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})|\\(.)|\$\$\{|%%\{|(.)', re.S)


def hcl_unquote(literal: str) -> str:
    """Decode an HCL quoted string literal without template sequences (inverse of hcl_string).

    Used to read back what python-hcl2 returns (it keeps literals in source form) and by the
    tests. Raises ValueError for a template interpolation or a malformed escape.
    """
    if len(literal) < 2 or literal[0] != '"' or literal[-1] != '"':
        raise ValueError(f"not a quoted HCL string: {literal!r}")
    body = literal[1:-1]
    out: list[str] = []
    pos = 0
    simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    for m in _UNQUOTE_RE.finditer(body):
        if m.start() != pos:  # pragma: no cover - the pattern matches every character
            raise ValueError("unreadable string")
        pos = m.end()
        u4, u8, esc, plain = m.groups()
        if u4 or u8:
            out.append(chr(int(u4 or u8, 16)))
        elif esc is not None:
            if esc not in simple:
                raise ValueError(f"unknown escape \\{esc}")
            out.append(simple[esc])
        elif plain is not None:
            if plain in "$%" and body[m.end() : m.end() + 1] == "{":
                raise ValueError("string contains a template sequence")
            out.append(plain)
        else:
            out.append(m.group(0)[1:])  # $${ -> ${ and %%{ -> %{
    return "".join(out)


_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_HCL_KEYWORDS = {"true", "false", "null", "for", "in", "if", "endif", "else", "endfor"}


def hcl_key(key: str) -> Hcl:
    """An object key: bare when it is a plain identifier, quoted otherwise."""
    if _IDENT_RE.match(key) and key not in _HCL_KEYWORDS:
        return Hcl(key)
    return hcl_string(key)


def hcl(value: object) -> Hcl:
    """Any plain Python value as an HCL literal (str, bool, int, None, list, dict)."""
    if isinstance(value, Hcl):
        return value
    if value is None:
        return Hcl("null")
    if isinstance(value, bool):
        return Hcl("true" if value else "false")
    if isinstance(value, int):
        return Hcl(str(value))
    if isinstance(value, str):
        return hcl_string(value)
    if isinstance(value, Mapping):
        return hcl_map(value)
    if isinstance(value, (list, tuple)):
        return hcl_list(value)
    raise TypeError(f"no HCL form for {type(value).__name__}")


def hcl_list(items: Iterable[object], multiline: bool | None = None) -> Hcl:
    """A tuple literal; one item per line when it would be long or holds objects."""
    parts = [hcl(v) for v in items]
    if not parts:
        return Hcl("[]")
    if multiline is None:
        multiline = sum(len(p) for p in parts) > 60 or any("\n" in p for p in parts)
    if not multiline:
        return Hcl("[" + ", ".join(parts) + "]")
    return Hcl("[\n" + "".join(f"{p},\n" for p in parts) + "]")


def hcl_map(mapping: Mapping[str, object], inline: bool = False) -> Hcl:
    """An object literal with keys in the given order; one attribute per line unless inline."""
    if not mapping:
        return Hcl("{}")
    attrs = [f"{hcl_key(k)} = {hcl(v)}" for k, v in mapping.items()]
    if inline:
        return Hcl("{ " + ", ".join(attrs) + " }")
    return Hcl("{\n" + "".join(f"{a}\n" for a in attrs) + "}")


_REF_RE = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*|\[[0-9]+\])*\Z")


def hcl_ident(name: str) -> Hcl:
    """An identifier made from a value (a resource name from a platform label's name): checked
    against HCL's identifier grammar, never quoted. A name that is not one is an error."""
    if not _IDENT_RE.match(name) or name in _HCL_KEYWORDS:
        raise ValueError(f"not an HCL identifier: {name!r}")
    return Hcl(name)


def hcl_ref(reference: str) -> Hcl:
    """A Terraform reference written by towergen itself (never from YAML): checked, not quoted."""
    if not _REF_RE.match(reference):
        raise ValueError(f"not a plain Terraform reference: {reference!r}")
    return Hcl(reference)


def hcl_string_with_refs(value: str, refs: Mapping[str, str]) -> Hcl:
    """``value`` as a quoted HCL string in which each stand-in (a key of ``refs``, text that no
    escaping changes) becomes an interpolation of a Terraform reference towergen wrote (its
    value). Everything else is escaped as ``hcl_string`` does, so only these interpolate."""
    literal = str(hcl_string(value))
    for standin, reference in refs.items():
        if hcl_string(standin) != f'"{standin}"':
            raise ValueError(f"a stand-in must read the same escaped: {standin!r}")
        literal = literal.replace(standin, "${" + hcl_ref(reference) + "}")
    return Hcl(literal)


# --- Terraform template files (templatefile): the grammar in one place ---------------------------
# In a template, "${" starts an interpolation and "%{" a directive; "$${" and "%%{" are their
# escapes. towergen's user-data uses no directive and interpolates only the variables it names.

_TEMPLATE_SEQUENCE = re.compile(r"\$\$\{|%%\{|\$\{|%\{")
_TEMPLATE_TOKEN = re.compile(r"\$\$\{|%%\{|\$\{([a-z_]+)\}")


def tftpl_escape(text: str) -> str:
    """Make literal text safe inside a Terraform template file (``templatefile``).

    A carriage return is refused: HCL's template scanner mis-reads ``$$${`` after a lone CR
    (``"\r$$${"`` renders unchanged), and towergen never writes CR into a file anyway.
    """
    if "\r" in text:
        raise ValueError("a Terraform template file from towergen never contains a carriage return")
    return text.replace("${", "$${").replace("%{", "%%{")


def tftpl_var(name: str) -> str:
    """An interpolation of a templatefile variable (``${name}``)."""
    if not name.isidentifier():
        raise ValueError(name)
    return "${" + name + "}"


def check_template(text: str, variables: set[str]) -> str | None:
    """Why ``text`` is not a Terraform template whose only interpolations are ``variables`` and
    which has no directive (None: it is)."""
    i = 0
    while match := _TEMPLATE_SEQUENCE.search(text, i):
        seq, i = match.group(), match.start()
        if seq in ("$${", "%%{"):
            i += 3
        elif seq == "${":
            end = text.find("}", i)
            name = text[i + 2 : end] if end > 0 else ""
            if name not in variables:
                return f"unexpected template sequence {text[i:i + 20]!r}"
            i = end + 1
        else:
            return f"unexpected template directive {text[i:i + 20]!r}"
    return None


def tftpl_render(template: str, variables: dict[str, str]) -> str:
    """What ``templatefile`` makes of a towergen template: its variables filled in, escapes undone."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) in ("$${", "%%{"):
            return match.group(0)[1:]
        return variables[match.group(1)]

    return _TEMPLATE_TOKEN.sub(sub, template)


# --- shell ---------------------------------------------------------------------------------------


def sh(value: object) -> Sh:
    """A shell word. Numbers print as they are; strings are single-quoted when needed."""
    if isinstance(value, bool) or value is None:
        raise TypeError("shell words are strings or integers")
    if isinstance(value, int):
        return Sh(str(value))
    if not isinstance(value, str):
        raise TypeError(f"no shell form for {type(value).__name__}")
    if "\x00" in value:
        raise ValueError("a shell word cannot contain NUL")
    return Sh(shlex.quote(value))


class ShTpl(Sh):
    """A shell word inside a Terraform template file (the launch template's user-data):
    shell-quoted, then template-escaped, or a ``${var}`` that ``templatefile`` fills in."""


def sh_tpl(value: object) -> ShTpl:
    return ShTpl(tftpl_escape(sh(value)))


def tpl_var(name: str) -> ShTpl:
    """A templatefile variable, double-quoted for the shell (its values are AWS-made names)."""
    return ShTpl('"' + tftpl_var(name) + '"')


# --- Groovy (nextflow.config) --------------------------------------------------------------------


def groovy_string(value: str) -> Groovy:
    """A single-quoted Groovy string: no interpolation, only \\ and ' need escaping."""
    if _plain_ascii(value, "\\'"):
        return Groovy("'" + value + "'")
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif _is_control(ch):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return Groovy("'" + "".join(out) + "'")


def groovy(value: object) -> Groovy:
    """Any plain value as a Groovy literal (str, bool, int, list of those)."""
    if isinstance(value, Groovy):
        return value
    if isinstance(value, bool):
        return Groovy("true" if value else "false")
    if isinstance(value, int):
        return Groovy(str(value))
    if isinstance(value, str):
        return groovy_string(value)
    if isinstance(value, (list, tuple)):
        return Groovy("[" + ", ".join(groovy(v) for v in value) + "]")
    raise TypeError(f"no Groovy form for {type(value).__name__}")


# --- comments ------------------------------------------------------------------------------------


class Comment(str):
    """Text for a one-line comment in any output language: no line breaks, no control characters."""


def comment(text: str) -> Comment:
    return Comment("".join(f"\\u{ord(ch):04x}" if _is_control(ch) else ch for ch in text))
