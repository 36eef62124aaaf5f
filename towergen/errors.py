"""towergen's one error hierarchy. Library code raises these; only the CLI turns them into exit
codes and messages (see ``cli.py``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an environment file, located as precisely as the file allows."""

    file: str
    line: int  # 1-based; 0 when the problem has no position (an empty file)
    column: int  # 1-based
    path: str  # key path such as "compute.cost_percentage"; "" for the whole document
    message: str  # "expected ..., found ..."

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class TowergenError(Exception):
    """Base of every error towergen reports to a user."""

    exit_code = 1


class SpecError(TowergenError):
    """One or more environment files are invalid. Holds every problem found, in file order, each
    once (files that share a base file report its problems once)."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(dict.fromkeys(problems), key=lambda p: (p.file, p.line, p.column))
        super().__init__("\n".join(str(p) for p in self.problems))


class RenderError(TowergenError):
    """Rendering produced something towergen refuses to write (e.g. output that does not parse)."""


class OutputError(TowergenError):
    """The output folder cannot be written safely (outside the root, a symlink, a clash)."""


class Interrupted(TowergenError):
    """The user interrupted towergen (Ctrl-C); the message says what state things are in."""


class TerraformError(TowergenError):
    """Terraform is missing, or a Terraform command failed."""


class EmulatorError(TowergenError):
    """The AWS emulator could not be started, reached, or lacks a service."""
