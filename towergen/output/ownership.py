"""Which files of an output tree are towergen's: the only files it may overwrite or delete."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..paths import MODULES
from ..renderer.files import ENV_FILES, MARKED_FILES, OWNER_MARK


@dataclass(frozen=True)
class Ownership:
    """The folders towergen owns files in (each environment's, only its own file names; each
    module's, every file), and the names it owns only when the file starts with ``mark`` (a
    ``backend.tf`` of the user's is never replaced or deleted)."""

    folders: dict[str, frozenset[str] | None]
    env_files: frozenset[str] = ENV_FILES
    marked: frozenset[str] = MARKED_FILES
    mark: bytes = OWNER_MARK.encode()


def ownership(env_names: Iterable[str]) -> Ownership:
    folders: dict[str, frozenset[str] | None] = dict.fromkeys(env_names, ENV_FILES)
    folders.update({f"modules/{module}": None for module in MODULES})
    return Ownership(folders)
