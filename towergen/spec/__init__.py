"""The environment file itself: its format (pydantic models, regions, the key reference, the
JSON Schema) and the bounded YAML reader that keeps the position of every key and value."""
