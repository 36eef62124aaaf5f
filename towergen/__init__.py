"""towergen: AWS Batch environments for Nextflow, from a YAML file to reviewed Terraform.

The library API that the CLI is a thin layer over::

    import towergen
    result = towergen.render(["env.yaml"], "infra/")   # write the output tree
    files = towergen.check(["env.yaml"])               # everything but writing
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .errors import Problem, SpecError, TowergenError
from .loader import Loaded, load_file
from .build import RenderResult, load_all, render_files, write_tree

__version__ = "0.1.0"

__all__ = ["__version__", "load", "check", "render", "Problem", "SpecError", "TowergenError", "RenderResult"]


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
