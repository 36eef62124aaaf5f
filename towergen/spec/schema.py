"""The JSON Schema of an environment file, for editors (``towergen schema``)."""

from __future__ import annotations

from typing import Any

from .model import EXTENDS, Environment


def file_schema() -> dict[str, Any]:
    """The JSON Schema of an environment file: the model's, plus ``extends`` (read by the loader,
    not a field of the model), so that an editor accepts a file that names a base file. A base
    file itself is partial: it need not match this schema."""
    schema = Environment.model_json_schema()
    schema["properties"][EXTENDS] = {
        "type": "string",
        "minLength": 1,
        "title": "Extends",
        "description": "a base file (a path relative to this file, inside the repository) whose keys this file "
        "overrides: mappings merge key by key, lists and other values are replaced",
    }
    return schema
