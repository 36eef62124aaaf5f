"""Where towergen's templates and Terraform modules live: inside the installed package (a wheel
carries them as ``towergen/templates`` and ``towergen/modules``), or beside the package in a
source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"towergen is installed without its {name}/ folder")


def templates_dir() -> Path:
    return resource_dir("templates")


def modules_dir() -> Path:
    return resource_dir("modules")


MODULES = ("network", "iam", "storage", "compute", "fsx")
