"""Reading and checking environment files: base files (``extends``), pydantic's errors as located
messages, the rules across keys and across files, and the warnings a valid file deserves."""
