"""The JSON Schema of an environment file, for editors and CI (``towergen schema``).

Two schemas, one model:

- ``file_schema()``: an environment file. A file that names a base file (``extends``) may leave
  out what its bases give, so it is checked as a partial file; any other file must be complete.
- ``file_schema(base=True)``: a base file, which is partial by design (only the merged result of
  a file and its bases is an environment). A base file asks for it with a modeline, as editors
  that use yaml-language-server read it: ``# yaml-language-server: $schema=towergen-base.schema.json``.

Both keep every key's type, pattern and description, and refuse unknown keys.
"""

from __future__ import annotations

import copy
from typing import Any

from .model import EXTENDS, Environment

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "towergen environment file (format version 1)"
BASE_TITLE = "towergen base file (format version 1), named by another file's extends"

_EXTENDS = {
    "type": "string",
    "minLength": 1,
    "title": "Extends",
    "description": "a base file (a path relative to this file, inside the repository) whose keys this file "
    "overrides: mappings merge key by key, lists and other values are replaced",
}


def _partial(schema: Any, rename: bool = False) -> Any:
    """``schema`` with no key required anywhere (a file completed by its bases); with ``rename``,
    its references lead to the partial sections (``#/$defs/PartialX``)."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "required":
                continue
            if key == "$ref" and rename and isinstance(value, str) and value.startswith("#/$defs/"):
                value = "#/$defs/Partial" + value[len("#/$defs/"):]
            out[key] = _partial(value, rename)
        return out
    if isinstance(schema, list):
        return [_partial(v, rename) for v in schema]
    return schema


def file_schema(*, base: bool = False) -> dict[str, Any]:
    """The JSON Schema of an environment file, or of a base file (``base``)."""
    model = Environment.model_json_schema()
    model["properties"][EXTENDS] = _EXTENDS
    definitions = model.pop("$defs", {})
    complete = {k: v for k, v in model.items() if k not in ("title", "description")}
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "title": BASE_TITLE if base else TITLE,
        "description": (
            "A file of defaults that environment files extend: any key of an environment file, none required."
            if base
            else "One AWS Batch environment for Nextflow, rendered into Terraform by towergen. A file that names "
            "a base file (extends) may leave out what its bases give."
        ),
    }
    if base:
        schema.update(_partial(complete))
        schema["$defs"] = _partial(copy.deepcopy(definitions))
        return schema
    schema.update({
        "type": "object",
        "if": {"required": [EXTENDS]},
        "then": {"$ref": "#/$defs/PartialEnvironment"},
        "else": {"$ref": "#/$defs/Environment"},
    })
    schema["$defs"] = {
        **definitions,
        "Environment": complete,
        # a file with extends may leave out, in any section, what its bases give
        **{f"Partial{name}": _partial(value, rename=True) for name, value in definitions.items()},
        "PartialEnvironment": _partial(complete, rename=True),
    }
    return schema
