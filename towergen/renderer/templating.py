"""Jinja environments that only print values already escaped for their output language.

Each environment's ``finalize`` hook refuses any printed value that does not carry the marker
type of its language (``Hcl``, ``Groovy``, ``ShTpl``) or is a ``Comment``. A raw string from the
YAML file therefore cannot reach an output file, whatever a template does.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import jinja2

from ..errors import RenderError
from ..paths import templates_dir
from .escape import Comment, Groovy, Hcl, ShTpl

_MARKERS = {"hcl": Hcl, "groovy": Groovy, "shell": ShTpl}


@cache
def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept in the user's cache folder (compiling them is a good part of a
    one-environment render); none when that folder cannot be made."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "towergen" / f"jinja-{jinja2.__version__}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


@cache
def environment(language: str) -> jinja2.Environment:
    marker = _MARKERS[language]

    def finalize(value: object) -> object:
        if isinstance(value, (marker, Comment)):
            return value
        raise RenderError(
            f"a {language} template tried to print {type(value).__name__} {value!r}: "
            "values must come through towergen.escape"
        )

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(language: str, template: str, /, **values: object) -> str:
    return environment(language).get_template(template).render(**values)
