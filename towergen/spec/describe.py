"""How values are shown in messages: as the user would recognise them from the file (key paths:
``yamlsafe.format_path``)."""

from __future__ import annotations

import datetime as _dt
import json
import unicodedata
from typing import Any


def describe(value: Any) -> str:
    """A value as the user would recognise it from the YAML file, safe to print."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # Text that is not NFC shows its combining characters escaped: it would look valid.
        ascii_only = unicodedata.normalize("NFC", value) != value
        if len(value) > 80:
            shown = json.dumps(value[:40], ensure_ascii=ascii_only)[:-1] + f'..." ({len(value)} characters)'
        else:
            shown = json.dumps(value, ensure_ascii=ascii_only)
        return shown.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, (_dt.date, _dt.datetime)):
        return f"a date ({value.isoformat()})"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}" if value else "an empty list"
    if isinstance(value, dict):
        return f"a mapping of {len(value)} key{'s' if len(value) != 1 else ''}" if value else "an empty mapping"
    return type(value).__name__
