"""The interface every target implements."""

from __future__ import annotations

import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import ClassVar

from ...errors import TowergenError
from ...paths import MODULES
from ...renderer.files import EMULATOR_LEAVES_OUT, ENV_FILES, PLATFORM_TF
from ..workspace import Subject, Workspace

COMMANDS = ("plan", "apply", "destroy", "smoke")

# Environment for Terraform on an emulator: no real credentials, profile or metadata service.
EMULATOR_ENV_REMOVE = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                       "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "towergen"


class Target(ABC):
    name: ClassVar[str]
    commands: ClassVar[frozenset[str]]  # what towergen may run here
    emulator: ClassVar[bool]  # AWS is emulated: fake credentials, throw-away or cached state
    keeps_state: ClassVar[bool] = True  # what an apply made is still there after the run
    refusals: ClassVar[dict[str, str]] = {}  # why a command does not run here, when there is more to say

    def __init__(self, *, endpoint: str | None = None) -> None:
        self.given_endpoint = endpoint

    def check_command(self, command: str) -> None:
        if command not in self.commands:
            allowed = ", ".join(sorted(self.commands))
            why = self.refusals.get(command, f"towergen {command} does not run on --target {self.name}")
            raise TowergenError(f"{why} (--target {self.name} runs {allowed})")

    @abstractmethod
    def workspace(self, subject: Subject) -> AbstractContextManager[Workspace]:
        """Prepare the folder Terraform runs in (removed afterwards when it is temporary)."""

    @contextmanager
    def running(self, ws: Workspace) -> Iterator[None]:
        """While Terraform runs: an emulator started and its override written, or nothing."""
        yield

    def check_services(self, ws: Workspace, command: str) -> None:  # noqa: B027 - most targets have every service
        """Stop, with an explanation, when the target lacks a service the run needs."""

    @abstractmethod
    def describe(self, ws: Workspace) -> str:
        """Where this run happens, for the first line of its output."""

    def plan_file(self, ws: Workspace) -> Path | None:
        """Where ``towergen plan`` saves a plan for ``towergen apply`` (None: plans are not kept)."""
        return None

    def terraform_env(self) -> dict[str, str | None]:
        """Changes to the environment Terraform runs with on this target (None: removed)."""
        if not self.emulator:
            return {}
        return {**dict.fromkeys(EMULATOR_ENV_REMOVE), "AWS_EC2_METADATA_DISABLED": "true"}


class EmulatorTarget(Target):
    """A target that runs a copy of towergen's files in a temporary folder."""

    emulator = True

    @contextmanager
    def workspace(self, subject: Subject) -> Iterator[Workspace]:
        tmp = Path(tempfile.mkdtemp(prefix=f"towergen-{self.name}-{subject.name}-"))
        try:
            if subject.rendered is None:
                if subject.loaded is None:
                    raise TowergenError(f"{subject.name}: nothing to run (no environment file, no rendered folder)")
                _write_rendered(tmp, subject)
            else:
                _copy_generated(subject.rendered, subject.name, tmp)
            ws = Workspace(subject.name, tmp / subject.name, self, subject.loaded)
            with self.kept_state(ws):
                yield ws
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @contextmanager
    def kept_state(self, ws: Workspace) -> Iterator[None]:
        """State kept between runs (LocalStack); the embedded emulator keeps none."""
        yield


def _write_rendered(tmp: Path, subject: Subject) -> None:
    """Render the environment into ``tmp``, leaving out what an emulator run never uses
    (``EMULATOR_LEAVES_OUT``: the backend, since emulator state is thrown away and must not reach
    real state; the platform file, replaced by its stand-in)."""
    from ...output.ownership import ownership
    from ...output.writer import write_output
    from ...renderer.many import render_files

    assert subject.loaded is not None
    rendered = render_files([subject.loaded])
    left_out = {f"{subject.name}/{n}" for n in EMULATOR_LEAVES_OUT}
    files = {k: v for k, v in rendered.items() if k not in left_out}
    write_output(tmp, files, ownership([subject.name]))
    if f"{subject.name}/{PLATFORM_TF}" in rendered:
        _platform_standin(tmp / subject.name)


def _platform_standin(root: Path) -> None:
    from ..emulator import write_platform_standin

    write_platform_standin(root)


def _copy_generated(rendered_root: Path, name: str, dest: Path) -> None:
    """Copy only towergen's own files: never the user's state, backend or .terraform, nor what
    an emulator run never uses (``EMULATOR_LEAVES_OUT``: the platform file gets its stand-in)."""
    (dest / name).mkdir(parents=True)
    for path in (rendered_root / name).iterdir():
        if path.name in ENV_FILES and path.is_file() and not path.is_symlink():
            if path.name in EMULATOR_LEAVES_OUT:
                if path.name == PLATFORM_TF:
                    _platform_standin(dest / name)
                continue
            shutil.copy2(path, dest / name / path.name)
    for module in MODULES:
        shutil.copytree(rendered_root / "modules" / module, dest / "modules" / module, symlinks=True)
