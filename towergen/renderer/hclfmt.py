"""A small formatter for the HCL that towergen's templates print, matching ``terraform fmt``.

Templates print attributes one per line without caring about indentation or alignment; this
pass gives the text the canonical layout, so rendering needs no Terraform binary and the output
is ``terraform fmt``-clean (the test suite checks that claim with the real ``terraform fmt``).

The rules are those of hclwrite's formatter for the subset of HCL the templates produce:
- indentation is two spaces per open bracket (``{``, ``[``, ``(``) at the start of the line;
- in a run of consecutive lines that each hold a complete ``name = value`` attribute, the
  ``=`` signs are aligned one space after the longest name; a line that opens a multi-line
  value, a block header, a closing bracket, a comment or a blank line ends the run;
- blanks between tokens are folded to one space, trailing white space is removed, runs of blank lines are folded to one, blank lines right
  after an opening or before a closing bracket are dropped, and the file ends with one newline.

Heredocs are not supported (towergen never prints one) and are rejected.
"""

from __future__ import annotations

import re
import unicodedata

_OPEN = "{[("
_CLOSE = "}])"
_ZWJ = "\u200d"


def columns(text: str) -> int:
    """Width of ``text`` as hclwrite counts it: in grapheme clusters (Unicode UAX #29).

    An approximation of the segmentation rules that covers what can reach an object key:
    combining and spacing marks (and the Thai and Lao SARA AM), variation selectors, emoji
    modifiers and ZWJ sequences extend the cluster before them; prepended concatenation marks
    join the next character; regional indicators pair up; Hangul jamo join into syllables.
    """
    if text.isascii():  # no ASCII character extends a cluster (CR LF never reaches a name)
        return len(text)
    count = 0
    prev = ""
    regional = 0
    for ch in text:
        if prev and (_extends(prev, ch) or (0x1F1E6 <= ord(ch) <= 0x1F1FF and regional % 2 == 1)):
            pass
        else:
            count += 1
        regional = regional + 1 if 0x1F1E6 <= ord(ch) <= 0x1F1FF else 0
        prev = ch
    return count


def _name_columns(name: str) -> int:
    # hclwrite counts each token on its own, so a combining mark never joins a character of
    # another token: the quotes of a quoted key are tokens, and HCL's scanner ends a literal
    # token after each "$" or "%" (and after the "$${" and "%%{" escapes).
    if not (len(name) >= 2 and name[0] == name[-1] == '"'):
        return columns(name)
    total, start, i, inner = 2, 0, 0, name[1:-1]
    while i < len(inner):
        if inner[i] in "$%":
            end = i + 3 if inner[i + 1 : i + 3] == inner[i] + "{" else i + 1
            total += columns(inner[start:end])
            start = i = end
        else:
            i += 1
    return total + columns(inner[start:])


_SPACING_LETTERS = {"\u0e33", "\u0eb3"}  # THAI / LAO CHARACTER SARA AM: Lo, but SpacingMark
_PREPEND = set(range(0x0600, 0x0606)) | {0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x0D4E, 0x110BD, 0x110CD, 0x111C2,
                                         0x111C3, 0x1193F, 0x11941, 0x11A3A, 0x11A84, 0x11A85, 0x11A86, 0x11A87,
                                         0x11A88, 0x11A89, 0x11D46}
# Other_Grapheme_Extend outside the mark categories: ZWNJ, halfwidth (semi-)voiced sound marks, tags
_OTHER_EXTEND = {0x200C, 0xFF9E, 0xFF9F} | set(range(0xE0020, 0xE0080))


def _hangul(ch: str) -> str:
    code = ord(ch)
    if 0x1100 <= code <= 0x115F or 0xA960 <= code <= 0xA97C:
        return "L"
    if 0x1160 <= code <= 0x11A7 or 0xD7B0 <= code <= 0xD7C6:
        return "V"
    if 0x11A8 <= code <= 0x11FF or 0xD7CB <= code <= 0xD7FB:
        return "T"
    if 0xAC00 <= code <= 0xD7A3:
        return "LV" if (code - 0xAC00) % 28 == 0 else "LVT"
    return ""


# Spacing marks (Mc) that UAX #29 leaves out of SpacingMark: they start a cluster.
_NOT_SPACING_MARKS = {0x102B, 0x102C, 0x1038, 0x1062, 0x1063, 0x1064, 0x1067, 0x1068, 0x1069, 0x106A, 0x106B,
                      0x106C, 0x106D, 0x1083, 0x1087, 0x1088, 0x1089, 0x108A, 0x108B, 0x108C, 0x108F, 0x109A,
                      0x109B, 0x109C, 0x1A61, 0x1A63, 0x1A64, 0xAA7B, 0xAA7D, 0x11720, 0x11721}


def _extends(prev: str, ch: str) -> bool:
    code = ord(ch)
    category = unicodedata.category(ch)
    if category in ("Mn", "Me") or ch in _SPACING_LETTERS or (category == "Mc" and code not in _NOT_SPACING_MARKS):
        return True
    if code in _OTHER_EXTEND:
        return True
    if ch == _ZWJ or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or 0x1F3FB <= code <= 0x1F3FF:
        return True
    if prev == _ZWJ and unicodedata.category(ch) == "So" and not 0x1F1E6 <= code <= 0x1F1FF:
        return True
    if ord(prev) in _PREPEND and unicodedata.category(ch) not in ("Cc", "Zl", "Zp"):
        return True
    a, b = _hangul(prev), _hangul(ch)
    return (a == "L" and b in ("L", "V", "LV", "LVT")) or (a in ("LV", "V") and b in ("V", "T")) or (
        a in ("LVT", "T") and b == "T"
    )


class HclFormatError(ValueError):
    pass


def _scan(line: str) -> tuple[int, int | None, bool]:
    """Scan one stripped line: (net bracket change, position of its attribute ``=`` or None,
    whether the line is only a comment).

    As in hclwrite, a line is an attribute line when its first ``=`` (not ``==``, ``=>``,
    ``!=``, ``<=``, ``>=``) is not the first character and the brackets from there on balance.
    """
    if line.startswith(("#", "//")):
        return 0, None, True
    net = 0
    eq_pos: int | None = None
    net_at_eq = 0
    i = 0
    while (found := _SCAN_STOP.search(line, i)) is not None:
        i = found.start()
        ch = line[i]
        if ch == '"':
            i = _skip_string(line, i)
            continue
        if ch == "#" or line.startswith("//", i):
            break
        if line.startswith("<<", i) and (line[i + 2 : i + 3].isalpha() or line[i + 2 : i + 3] == "-"):
            raise HclFormatError("heredocs are not supported by towergen's formatter")
        if ch in _OPEN:
            net += 1
        elif ch in _CLOSE:
            net -= 1
        elif ch == "=" and eq_pos is None and i > 0 and line[i + 1 : i + 2] not in ("=", ">") and line[i - 1] not in "!<>=":
            eq_pos = i
            net_at_eq = net
        i += 1
    if eq_pos is not None and net != net_at_eq:
        eq_pos = None  # the value opens (or closes) a multi-line expression
    return net, eq_pos, False


# The characters each scanner acts on; everything between them is skipped in one step.
_SCAN_STOP = re.compile(r'["#/<{}\[\]()=]')
_STRING_STOP = re.compile(r'[\\"$%]')
_TEMPLATE_STOP = re.compile(r'["{}]')


def _skip_string(line: str, start: int) -> int:
    """Index just past the string literal starting at ``start`` (handles ``${ ... }`` nesting)."""
    i = start + 1
    while (found := _STRING_STOP.search(line, i)) is not None:
        i = found.start()
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        if line.startswith("$${", i) or line.startswith("%%{", i):
            i += 3
            continue
        if line.startswith("${", i) or line.startswith("%{", i):
            i = _skip_template(line, i + 2)
            continue
        i += 1
    raise HclFormatError(f"unterminated string: {line.strip()}")


def _skip_template(line: str, i: int) -> int:
    depth = 1
    while (found := _TEMPLATE_STOP.search(line, i)) is not None:
        i = found.start()
        ch = line[i]
        if ch == '"':
            i = _skip_string(line, i)
            continue
        if ch == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise HclFormatError(f"unterminated template sequence: {line.strip()}")


def _collapse_spaces(line: str) -> str:
    """Fold runs of blanks outside strings and comments to one space (template padding)."""
    if "  " not in line and "\t" not in line:
        return line
    out: list[str] = []
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == '"':
            end = _skip_string(line, i)
            out.append(line[i:end])
            i = end
        elif ch == "#" or line.startswith("//", i):
            out.append(line[i:])
            break
        elif ch in " \t":
            while i < n and line[i] in " \t":
                i += 1
            out.append(" ")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def format_hcl(text: str) -> str:
    """Return ``text`` laid out as ``terraform fmt`` would lay it out."""
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n")]
    out: list[str] = []
    run: list[tuple[int, int]] = []  # (index in out, name length) of the current alignment run
    indents: list[int] = []  # hclwrite's indent stack: open brackets per indented line

    def close_run() -> None:
        if len(run) > 1:
            width = max(_name_columns(out[idx].lstrip(" ")[:name_len]) for idx, name_len in run)
            for idx, name_len in run:
                line = out[idx]
                indent = len(line) - len(line.lstrip(" "))
                name = line[indent : indent + name_len]
                value = line[indent + name_len + 3 :]
                out[idx] = " " * indent + name + " " * (width - _name_columns(name)) + " = " + value
        run.clear()

    for raw in lines:
        if not raw:
            close_run()
            if out and out[-1] != "" and not out[-1].endswith(("{", "[", "(")):
                out.append("")
            continue
        net, eq_pos, is_comment = _scan(raw)
        if not is_comment:
            collapsed = _collapse_spaces(raw)
            if collapsed != raw:
                raw = collapsed
                net, eq_pos, is_comment = _scan(raw)
        if net > 0:
            level = len(indents)
            indents.append(net)
        elif net < 0:
            closed = -net
            while closed > 0:
                if not indents:
                    raise HclFormatError(f"unbalanced closing bracket: {raw}")
                if closed >= indents[-1]:
                    closed -= indents.pop()
                else:
                    indents[-1] -= closed
                    closed = 0
            level = len(indents)
            if out and out[-1] == "":
                out.pop()
        else:
            level = len(indents)
        prefix = "  " * level
        if is_comment or eq_pos is None:
            close_run()
            out.append(prefix + raw)
        else:
            name = raw[:eq_pos].rstrip()
            out.append(prefix + name + " = " + raw[eq_pos + 1 :].lstrip())
            run.append((len(out) - 1, len(name)))
    close_run()
    if indents:
        raise HclFormatError("unbalanced brackets at end of file")
    while out and out[-1] == "":
        out.pop()
    while out and out[0] == "":
        out.pop(0)
    return "\n".join(out) + "\n"
