"""Every rendered file is read back before anything is written: HCL must parse (python-hcl2's
own grammar), JSON must parse, every file ends in one LF. A file that does not is an error."""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Callable

from ..errors import RenderError

# sha256 of each HCL body this process has parsed successfully: a body is parsed once.
_PARSED: set[bytes] = set()


@functools.cache
def _syntax_check() -> Callable[[str], object]:
    """python-hcl2's own parser (its grammar, its cached tables), without the position
    bookkeeping its data conversion needs and a syntax check does not: a third faster."""
    import hcl2

    try:
        from hcl2.parser import parser
        from hcl2.postlexer import PostLexer
        from lark import Lark

        buffer = io.BytesIO()
        parser().save(buffer)
        buffer.seek(0)
        fast = Lark.__new__(Lark)._load(buffer, propagate_positions=False, postlex=PostLexer())
        # python-hcl2 appends a newline too: its grammar needs one at the end of a file
        return lambda text: fast.parse(text + "\n")
    except Exception:  # another python-hcl2 or lark than the one this was written for
        return hcl2.parses_to_tree


def check_hcl(path: str, text: str) -> None:
    # The leading comment lines (the header naming the source file, different in every file) are
    # valid HCL on their own; the rest is often the same in many environments: parse it once.
    start = 0
    while text.startswith("#", start):
        end = text.find("\n", start)
        if end < 0:
            return
        start = end + 1
    body = text[start:]
    key = hashlib.sha256(body.encode("utf-8")).digest()
    if key in _PARSED:
        return
    try:
        _syntax_check()(body)  # the syntax check; python-hcl2's dict form is not needed
    except Exception as exc:  # python-hcl2 raises lark errors of many kinds
        raise RenderError(f"{path} does not parse as HCL: {str(exc).splitlines()[0]}") from exc
    _PARSED.add(key)


def check_files(files: dict[str, str]) -> None:
    """Parse every rendered file back. A file that does not parse is an error, not a warning."""
    for path, text in sorted(files.items()):
        if not text.endswith("\n") or "\r" in text:
            raise RenderError(f"{path}: expected LF line ends and a final newline")
        if path.endswith(".tf"):
            check_hcl(path, text)
        elif path.endswith(".json"):
            try:
                json.loads(text)
            except ValueError as exc:
                raise RenderError(f"{path} does not parse as JSON: {exc}") from exc
