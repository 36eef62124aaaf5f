"""``--target aws``: plain Terraform in the rendered folder, with the user's credentials, backend
and state. Nothing here renders: the library API renders an environment file first."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from ...decide.platform import TOKEN_ENV
from ...errors import TowergenError
from ...renderer.files import PLATFORM_TF
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

    def check_services(self, ws: Workspace, command: str) -> None:
        """An environment registered in the platform (platform.tf) needs the platform's token:
        say so before Terraform starts, rather than at its first call to the platform."""
        if (ws.root / PLATFORM_TF).is_file() and not os.environ.get(TOKEN_ENV):
            raise TowergenError(
                f"{ws.name}: {PLATFORM_TF} registers the environment in the Seqera Platform, and Terraform needs "
                f"the platform's token for it: set {TOKEN_ENV} to an access token of the workspace (in CI, from a "
                "secret; never in a file). docs/platform.md says more"
            )

    def describe(self, ws: Workspace) -> str:
        return "AWS (your credentials, your backend)"

    def plan_file(self, ws: Workspace) -> Path | None:
        """Inside .terraform/, which is never committed: a plan holds the values it will set."""
        return ws.root / ".terraform" / PLAN_FILE
