"""The folder Terraform runs in for one environment, and what is known about the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..loader.validate import Loaded
    from .targets import Target


@dataclass(frozen=True)
class Subject:
    """An environment to run: its name, its environment file when known (loaded once), and the
    output folder towergen rendered it into, when there is one (``rendered/<name>``)."""

    name: str
    loaded: Loaded | None = None
    rendered: Path | None = None  # the output folder (absolute) holding <name>/ and modules/


@dataclass
class Workspace:
    """Where Terraform runs for one environment on one target."""

    name: str
    root: Path  # the environment's root module
    target: Target
    loaded: Loaded | None = None  # the environment file, when known
    endpoint: str | None = None  # an emulator's endpoint, once it runs
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def plan_file(self) -> Path | None:
        return self.target.plan_file(self)

    def terraform_env(self) -> dict[str, str | None]:
        """Changes to the environment Terraform runs with (None: removed)."""
        return self.target.terraform_env()
