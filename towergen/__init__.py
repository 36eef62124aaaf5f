"""towergen: AWS Batch environments for Nextflow, from a YAML file to reviewed Terraform.

The library API that the CLI is a thin layer over::

    import towergen
    result = towergen.render(["env.yaml"], "infra/")   # write the output tree
    result = towergen.render(["env.yaml"], "infra/", check=True)  # what render would change
    files, warnings = towergen.check(["env.yaml"])     # everything but writing
    names = towergen.changed("origin/main", "infra/").changed  # changed since a git revision
    outcome = towergen.plan("env.yaml", target="local") # terraform plan on the embedded emulator
    report = towergen.smoke("env.yaml")                 # apply, check, re-plan, destroy, verify

Errors are raised as ``TowergenError`` subclasses; the CLI turns them into messages and exit codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .errors import OutputError, Problem, SpecError, TowergenError
from .loader import Loaded, load_file
from .build import ENV_FILES, OWNERSHIP, RenderResult, owned_folders, render_fleet
from .write import MANIFEST, EnvSource, output_path, write_output
from .changes import Changed, changed_since

__version__ = "0.1.0"

__all__ = [
    "__version__", "load", "check", "render", "changed", "plan", "apply", "destroy", "smoke",
    "Changed", "MANIFEST", "Problem", "SpecError", "OutputError", "TowergenError", "RenderResult",
]


def load(path: str | Path) -> Loaded:
    """Read and validate one environment file (raises SpecError with every problem)."""
    return load_file(path)


def check(paths: Iterable[str | Path]) -> tuple[dict[str, str], list[Problem]]:
    """Load, validate and render in memory: (files by output path, warnings). Writes nothing."""
    loaded, files = render_fleet(paths)
    return files, [w for item in loaded for w in item.warnings]


def render(paths: Iterable[str | Path], out_dir: str | Path, *, check: bool = False, prune: bool = False) -> RenderResult:
    """Render environment files into ``out_dir``: each into ``out_dir/<name>/``, the Terraform
    modules they use into ``out_dir/modules/``, and the manifest ``out_dir/towergen-manifest.json``
    (each environment's file and the sha256 of its output). Nothing is written unless every file
    is valid, and a write that fails leaves the tree as it was.

    An environment in the manifest whose file is gone is kept (its Terraform state may hold live
    resources) with a warning; ``prune`` removes its generated files. ``check`` writes nothing:
    the result's ``changes`` say what a render would do (``result.differs``)."""
    out = output_path(out_dir)
    loaded, files = render_fleet(paths)
    names = [item.env.name for item in loaded]
    envs = [EnvSource(item.env.name, Path(item.source.file)) for item in loaded]
    written = write_output(out, files, owned_folders(names), envs=envs, env_files=ENV_FILES,
                           version=__version__, check=check, prune=prune, **OWNERSHIP)
    warnings = [w for item in loaded for w in item.warnings] + written.warnings
    return RenderResult(out, names, written.changes, warnings, written.orphans, check)


def changed(since: str, out_dir: str | Path = "infra") -> Changed:
    """The environments of ``out_dir`` whose rendered output differs from git revision
    ``since``, from the manifest there and the manifest at ``since`` (``git show``)."""
    return changed_since(since, output_path(out_dir))


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
