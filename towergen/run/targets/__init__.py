"""Where Terraform runs for an environment: one module per target behind one interface.

- ``local`` (``local.py``): an embedded moto server on a free loopback port. The environment is
  rendered (or copied from a rendered folder) into a temporary folder; its state is thrown away
  with the emulator.
- ``localstack`` (``localstack.py``): the same, aimed at a LocalStack endpoint. LocalStack
  outlives a run, so its state is kept outside the repository, in
  ``$XDG_CACHE_HOME/towergen/localstack/<host>/<environment>/``.
- ``aws`` (``aws.py``): plain Terraform in the rendered folder, with the user's credentials,
  backend and state.

Emulator runs never write into the user's output tree: they copy only the files towergen
generates (never a backend or state file, the user's or towergen's own backend.tf) and work on
the copy.
"""

from __future__ import annotations

from .aws import Aws
from .base import COMMANDS, Target, cache_dir
from .local import Local
from .localstack import LocalStack

TARGETS: dict[str, type[Target]] = {cls.name: cls for cls in (Local, LocalStack, Aws)}


def target_named(name: str, *, endpoint: str | None = None) -> Target:
    """The target called ``name`` (a TowergenError names the choices otherwise)."""
    from ...errors import TowergenError

    cls = TARGETS.get(name)
    if cls is None:
        raise TowergenError(f"unknown target {name!r}: expected one of {', '.join(TARGETS)}")
    return cls(endpoint=endpoint)


def targets_for(command: str) -> list[str]:
    """The names of the targets that accept ``command``."""
    return [name for name, cls in TARGETS.items() if command in cls.commands]


__all__ = ["COMMANDS", "TARGETS", "Aws", "Local", "LocalStack", "Target", "cache_dir", "target_named", "targets_for"]
