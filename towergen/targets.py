"""Where Terraform runs for an environment and a target.

- ``local``: an embedded moto server on a free loopback port (``emulator.py``). The environment
  is rendered (or copied from a rendered folder) into a temporary folder; its state is thrown
  away with the emulator.
- ``localstack``: the same, aimed at a LocalStack endpoint (``localstack.py``). LocalStack
  outlives a run, so its state is kept outside the repository, in
  ``$XDG_CACHE_HOME/towergen/localstack/<host>/<environment>/``.
- ``aws``: plain Terraform in the rendered folder, with the user's credentials, backend and state.

Emulator runs never write into the user's output tree: they copy only the files towergen
generates (never a backend or state file, the user's or towergen's own backend.tf) and work on
the copy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .build import BACKEND_FILE, ENV_FILES, load_all, render_files, write_tree
from .errors import TowergenError
from .loader import Loaded
from .localstack import localstack_endpoint
from .resources import MODULES
from .write import recorded_source

TARGETS = ("local", "localstack", "aws")

# Environment for Terraform on an emulator: no real credentials, profile or metadata service.
EMULATOR_ENV_REMOVE = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                       "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


@dataclass
class Workspace:
    """Where Terraform runs for one environment and target."""

    name: str
    root: Path  # the environment's root module
    target: str
    endpoint: str | None = None
    loaded: Loaded | None = None  # the environment file, when the run started from one
    state_cache: Path | None = None  # localstack: where the state lives between runs

    @property
    def plan_file(self) -> Path | None:
        """Where ``towergen plan`` saves an AWS plan for ``towergen apply`` (inside .terraform/,
        which is never committed: a plan holds the values it will set)."""
        return self.root / ".terraform" / "towergen.tfplan" if self.target == "aws" else None

    def terraform_env(self) -> dict[str, str | None]:
        """Changes to the environment Terraform runs with on this target (None: removed)."""
        if self.target == "aws":
            return {}
        return {**{k: None for k in EMULATOR_ENV_REMOVE}, "AWS_EC2_METADATA_DISABLED": "true"}


def _is_rendered_folder(path: Path) -> bool:
    return path.is_dir() and (path / "main.tf").is_file() and (path.parent / "modules").is_dir()


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "towergen"


@contextmanager
def workspace(source: str | Path, target: str, *, out: str | Path | None = None,
              endpoint: str | None = None) -> Iterator[Workspace]:
    """Prepare the folder Terraform runs in, for ``source`` (an environment file or a rendered
    environment folder) on ``target``; an emulator workspace is removed afterwards."""
    if target not in TARGETS:
        raise TowergenError(f"unknown target {target!r}: expected one of {', '.join(TARGETS)}")
    # Folders are absolute from here on: Terraform runs in the environment's folder, so a path
    # relative to the current folder (the plan file, -o infra) would land somewhere else.
    source = Path(source)
    loaded: Loaded | None = None
    if _is_rendered_folder(source):
        rendered_root, name = source.absolute().parent, source.absolute().name
        # the environment file the output tree's manifest records, for what reads the file (smoke)
        recorded = recorded_source(rendered_root, name)
        if recorded is not None:
            (loaded,) = load_all([recorded])
    else:
        (loaded,) = load_all([source])
        name = loaded.env.name
        rendered_root = None

    if target == "aws":
        if rendered_root is None:
            from . import render  # as `towergen render` does: the manifest stays current

            out_dir = Path(out or "infra").absolute()
            render([source], out_dir)
            rendered_root = out_dir
        yield Workspace(name, rendered_root / name, target, None, loaded)
        return

    tmp = Path(tempfile.mkdtemp(prefix=f"towergen-{target}-{name}-"))
    try:
        if rendered_root is None:
            # never the backend: emulator state is thrown away and must not reach real state
            files = {k: v for k, v in render_files([loaded]).items() if k != f"{name}/{BACKEND_FILE}"}
            write_tree(tmp, files, [name])
        else:
            _copy_generated(rendered_root, name, tmp)
        root = tmp / name
        ws = Workspace(name, root, target, endpoint, loaded)
        if target == "localstack":
            ws.endpoint = localstack_endpoint(endpoint)
            host = ws.endpoint.split("://", 1)[-1].replace(":", "_").replace("/", "_")
            ws.state_cache = cache_dir() / "localstack" / host / name
            state = ws.state_cache / "terraform.tfstate"
            if state.exists():
                shutil.copy2(state, root / "terraform.tfstate")
        yield ws
        if ws.state_cache is not None and (root / "terraform.tfstate").exists():
            ws.state_cache.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / "terraform.tfstate", ws.state_cache / "terraform.tfstate")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _copy_generated(rendered_root: Path, name: str, dest: Path) -> None:
    """Copy only towergen's own files: never the user's state, backend or .terraform."""
    (dest / name).mkdir(parents=True)
    for path in (rendered_root / name).iterdir():
        if path.name in ENV_FILES and path.is_file():
            shutil.copy2(path, dest / name / path.name)
    for module in MODULES:
        shutil.copytree(rendered_root / "modules" / module, dest / "modules" / module)
