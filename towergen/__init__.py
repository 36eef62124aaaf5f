"""towergen: AWS Batch environments for Nextflow, from a YAML file to reviewed Terraform.

The library API that the CLI is a thin layer over (``towergen/api.py``)::

    import towergen
    result = towergen.render(["env.yaml"], "infra/")   # write the output tree
    result = towergen.render(["env.yaml"], "infra/", check=True)  # what render would change
    files, warnings = towergen.check(["env.yaml"])     # everything but writing
    names = towergen.changed("origin/main", "infra/").changed  # changed since a git revision
    outcome = towergen.plan("env.yaml", target="local") # terraform plan on the embedded emulator
    report = towergen.smoke("env.yaml")                 # apply, check, re-plan, destroy, verify

Errors are raised as ``TowergenError`` subclasses; the CLI turns them into messages and exit codes.
The package's stages, in the order data flows: ``spec`` (the file format), ``loader`` (reading
and checking a file), ``decide`` (what towergen builds), ``renderer`` (the files), ``output``
(writing them), ``run`` (Terraform on a target), ``smoketest`` (the rehearsal on an emulator),
then ``api``, ``fleet`` and ``cli``. Names are imported on first use, so that ``towergen --version`` imports little.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = ("load", "check", "render", "changed", "plan", "apply", "destroy", "smoke", "RenderResult")
_ERRORS = ("Problem", "SpecError", "OutputError", "TowergenError")

__all__ = [
    "MANIFEST", "Changed", "OutputError", "Problem", "RenderResult", "SpecError", "TowergenError", "__version__",
    "apply", "changed", "check", "destroy", "load", "plan", "render", "smoke",
]

if TYPE_CHECKING:
    from .api import RenderResult, apply, changed, check, destroy, load, plan, render, smoke
    from .errors import OutputError, Problem, SpecError, TowergenError
    from .output.changes import Changed
    from .output.manifest import MANIFEST


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    if name in _ERRORS:
        from . import errors

        return getattr(errors, name)
    if name == "Changed":
        from .output.changes import Changed

        return Changed
    if name == "MANIFEST":
        from .output.manifest import MANIFEST

        return MANIFEST
    raise AttributeError(f"module 'towergen' has no attribute {name!r}")
