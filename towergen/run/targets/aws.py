"""``--target aws``: plain Terraform in the rendered folder, with the user's credentials, backend
and state. Nothing here renders: the library API renders an environment file first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from ...errors import TowergenError
from ..workspace import Subject, Workspace
from .base import Target

PLAN_FILE = "towergen.tfplan"


class Aws(Target):
    name = "aws"
    commands: ClassVar[frozenset[str]] = frozenset({"plan", "apply", "destroy"})
    emulator = False

    @contextmanager
    def workspace(self, subject: Subject) -> Iterator[Workspace]:
        if subject.rendered is None:
            raise TowergenError(f"{subject.name}: --target aws runs a rendered folder (render it first)")
        yield Workspace(subject.name, subject.rendered / subject.name, self, subject.loaded)

    def describe(self, ws: Workspace) -> str:
        return "AWS (your credentials, your backend)"

    def plan_file(self, ws: Workspace) -> Path | None:
        """Inside .terraform/, which is never committed: a plan holds the values it will set."""
        return ws.root / ".terraform" / PLAN_FILE
