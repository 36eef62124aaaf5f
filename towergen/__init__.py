"""towergen: AWS Batch environments for Nextflow, from a YAML file to reviewed Terraform.

The library API that the CLI is a thin layer over::

    import towergen
    result = towergen.render(["env.yaml"], "infra/")   # write the output tree
    files = towergen.check(["env.yaml"])               # everything but writing
    outcome = towergen.plan("env.yaml", target="local") # terraform plan on the embedded emulator
    report = towergen.smoke("env.yaml")                 # apply, check, re-plan, destroy, verify

Errors are raised as ``TowergenError`` subclasses; the CLI turns them into messages and exit codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .errors import Problem, SpecError, TowergenError
from .loader import Loaded, load_file
from .build import RenderResult, load_all, render_files, write_tree

__version__ = "0.1.0"

__all__ = [
    "__version__", "load", "check", "render", "plan", "apply", "destroy", "smoke",
    "Problem", "SpecError", "TowergenError", "RenderResult",
]


def load(path: str | Path) -> Loaded:
    """Read and validate one environment file (raises SpecError with every problem)."""
    return load_file(path)


def check(paths: Iterable[str | Path]) -> tuple[dict[str, str], list[Problem]]:
    """Load, validate and render in memory: (files by output path, warnings). Writes nothing."""
    loaded = load_all(paths)
    files = render_files(loaded)
    return files, [w for item in loaded for w in item.warnings]


def render(paths: Iterable[str | Path], out_dir: str | Path) -> RenderResult:
    """Render environment files into ``out_dir``: each into ``out_dir/<name>/``, the Terraform
    modules they use into ``out_dir/modules/``. Nothing is written unless every file is valid."""
    loaded = load_all(paths)
    files = render_files(loaded)
    names = [item.env.name for item in loaded]
    changes = write_tree(Path(out_dir), files, names)
    warnings = [w for item in loaded for w in item.warnings]
    return RenderResult(Path(out_dir), names, changes, warnings)


def _terraform(command: str, source: str | Path, target: str, echo, out, endpoint, plugin_mirror):
    from .run import run

    return run(source, command, target, echo or print, out=out, endpoint=endpoint, plugin_mirror=plugin_mirror)


def plan(source: str | Path, *, target: str = "local", echo=None, out: str | Path | None = None,
         endpoint: str | None = None, plugin_mirror: str | Path | None = None):
    """``terraform plan`` for an environment file or rendered folder on ``target`` (local, localstack,
    aws); progress goes to ``echo`` (default: print). Returns the ``Outcome`` (exit code 0: no
    changes, 2: changes)."""
    return _terraform("plan", source, target, echo, out, endpoint, plugin_mirror)


def apply(source: str | Path, *, target: str = "local", echo=None, out: str | Path | None = None,
          endpoint: str | None = None, plugin_mirror: str | Path | None = None):
    """``terraform apply`` (on aws: exactly the plan ``plan`` saved, if there is one)."""
    return _terraform("apply", source, target, echo, out, endpoint, plugin_mirror)


def destroy(source: str | Path, *, target: str = "aws", echo=None, out: str | Path | None = None,
            endpoint: str | None = None, plugin_mirror: str | Path | None = None):
    """``terraform destroy`` (localstack or aws: the embedded emulator keeps no state)."""
    return _terraform("destroy", source, target, echo, out, endpoint, plugin_mirror)


def smoke(source: str | Path, *, target: str = "local", echo=None, endpoint: str | None = None,
          plugin_mirror: str | Path | None = None):
    """On an emulator: apply, check the AWS objects, re-plan, destroy, check nothing is left.
    Returns the ``SmokeReport``."""
    from .smoketest import smoke as run_smoke

    return run_smoke(source, echo or print, target=target, endpoint=endpoint, plugin_mirror=plugin_mirror)
