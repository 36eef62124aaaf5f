"""Every rendered file is read back before anything is written: HCL must parse (python-hcl2's
own grammar), JSON must parse, every file ends in one LF. A file that does not is an error.

Loading python-hcl2's parser costs more than rendering an environment, so the sha256 of every
HCL body that parsed is remembered, in this process and in the user's cache folder
(``$XDG_CACHE_HOME/towergen/``, per python-hcl2 release): the parser is loaded only for a body
never seen before. The modules towergen copies are its own files, parsed by its tests.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

from ..errors import RenderError

# sha256 of each HCL body known to parse: a body is parsed once.
_PARSED: set[str] = set()
_LOADED_CACHE = False
CACHE_LIMIT = 200_000  # bodies remembered on disk (32-byte lines); the file starts over beyond


@functools.cache
def _hcl2_release() -> str | None:
    try:
        from importlib.metadata import version

        return version("python-hcl2")
    except Exception:  # pragma: no cover - an installation without metadata
        return None


def _cache_file() -> Path | None:
    release = _hcl2_release()
    if release is None:
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "towergen" / f"hcl-parsed-{release}.txt"


def _remembered() -> set[str]:
    global _LOADED_CACHE
    if not _LOADED_CACHE:
        _LOADED_CACHE = True
        path = _cache_file()
        try:
            if path is not None and path.is_file() and not path.is_symlink() and path.stat().st_size < CACHE_LIMIT * 65:
                _PARSED.update(line for line in path.read_text(encoding="ascii").split() if len(line) == 64)
        except (OSError, ValueError):
            pass  # a cache that cannot be read is an empty one
    return _PARSED


def _remember(keys: list[str]) -> None:
    """Add ``keys`` to the cache file (one append: lines of one write do not interleave)."""
    path = _cache_file()
    if path is None or not keys:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "w" if path.exists() and path.stat().st_size > CACHE_LIMIT * 65 else "a"
        with open(path, mode, encoding="ascii") as fh:
            fh.write("".join(f"{key}\n" for key in keys))
    except OSError:
        pass  # no cache folder (a read-only home): parse again next time


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


def check_hcl(path: str, text: str, learned: list[str] | None = None) -> None:
    # The leading comment lines (the header naming the source file, different in every file) are
    # valid HCL on their own; the rest is often the same in many environments: parse it once.
    start = 0
    while text.startswith("#", start):
        end = text.find("\n", start)
        if end < 0:
            return
        start = end + 1
    body = text[start:]
    key = hashlib.sha256(body.encode("utf-8")).hexdigest()
    if key in _remembered():
        return
    try:
        _syntax_check()(body)  # the syntax check; python-hcl2's dict form is not needed
    except Exception as exc:  # python-hcl2 raises lark errors of many kinds
        raise RenderError(f"{path} does not parse as HCL: {str(exc).splitlines()[0]}") from exc
    _PARSED.add(key)
    if learned is not None:
        learned.append(key)


def check_files(files: dict[str, str]) -> None:
    """Parse every rendered file back. A file that does not parse is an error, not a warning."""
    learned: list[str] = []
    for path, text in sorted(files.items()):
        if not text.endswith("\n") or "\r" in text:
            raise RenderError(f"{path}: expected LF line ends and a final newline")
        if path.endswith(".tf"):
            check_hcl(path, text, learned)
        elif path.endswith(".json"):
            try:
                json.loads(text)
            except ValueError as exc:
                raise RenderError(f"{path} does not parse as JSON: {exc}") from exc
    _remember(learned)
