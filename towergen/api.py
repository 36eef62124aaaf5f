"""The library API that the command line is a thin layer over (``towergen/__init__.py`` exports
it). Each function composes the stages: read and decide (``spec``, ``load``, ``decide``), render
(``render``), write (``output``), run (``run``, ``smoke``). Errors are raised as
``TowergenError`` subclasses; the CLI turns them into messages and exit codes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import Problem
from .loader.extends import repository_of
from .loader.fleet import load_all
from .loader.validate import Loaded, load_file
from .output.changes import Changed, changed_since
from .output.folders import output_path
from .output.manifest import MANIFEST, recorded_source
from .output.ownership import ownership
from .output.writer import Change, EnvSource, ManifestUpdate, write_output
from .renderer.many import render_files, render_many

if TYPE_CHECKING:
    from .run.progress import Echo, Outcome
    from .run.workspace import Subject
    from .smoketest.report import SmokeReport


@dataclass
class RenderResult:
    out_dir: Path
    environments: list[str]
    changes: list[Change]
    warnings: list[Problem]
    orphans: list[str] = field(default_factory=list)  # recorded in the manifest, their file gone
    checked_only: bool = False  # render(check=True): nothing was written

    @property
    def summary(self) -> str:
        """How many files were created, overwritten, deleted and left identical."""
        counts = [c.action for c in self.changes]
        return ", ".join(f"{counts.count(a)} {a}" for a in ("create", "overwrite", "delete", "identical") if a in counts)

    @property
    def differs(self) -> bool:
        """Whether the tree differs from what was rendered (a check found work to do)."""
        return any(change.action != "identical" for change in self.changes)


def load(path: str | Path) -> Loaded:
    """Read and validate one environment file (raises SpecError with every problem)."""
    return load_file(path)


def check(paths: Iterable[str | Path]) -> tuple[dict[str, str], list[Problem]]:
    """Load, validate and render in memory: (files by output path, warnings). Writes nothing."""
    loaded, files = render_many(paths)
    return files, [w for item in loaded for w in item.warnings]


def render(paths: Iterable[str | Path], out_dir: str | Path, *, check: bool = False, prune: bool = False,
           force: bool = False) -> RenderResult:
    """Render environment files into ``out_dir``: each into ``out_dir/<name>/``, the Terraform
    modules they use into ``out_dir/modules/``, and the manifest ``out_dir/towergen-manifest.json``
    (each environment's file and the sha256 of its output). Nothing is written unless every file
    is valid, and a write that fails leaves the tree as it was.

    An environment in the manifest whose file is gone is kept (its Terraform state may hold live
    resources) with a warning; ``prune`` removes its generated files, unless its state holds
    resources or is remote (``force`` removes them anyway, never the state). ``check`` writes
    nothing: the result's ``changes`` say what a render would do (``result.differs``)."""
    out = output_path(out_dir)
    loaded, files = render_many(paths)
    return _write(loaded, files, out, check=check, prune=prune, force=force)


def _write(loaded: list[Loaded], files: dict[str, str], out: Path, *, check: bool = False, prune: bool = False,
           force: bool = False) -> RenderResult:
    names = [item.env.name for item in loaded]
    envs = [EnvSource(item.env.name, Path(item.source.file)) for item in loaded]
    written = write_output(out, files, ownership(names), manifest=ManifestUpdate(envs, __version__), check=check,
                           prune=prune, force=force)
    warnings = [w for item in loaded for w in item.warnings] + written.warnings
    return RenderResult(out, names, written.changes, warnings, written.orphans, check)


def changed(since: str, out_dir: str | Path = "infra") -> Changed:
    """The environments of ``out_dir`` whose rendered output differs from git revision
    ``since``, from the manifest there and the manifest at ``since`` (``git show``)."""
    return changed_since(since, output_path(out_dir))


DEFAULT_OUT = "infra"


def subject(source: str | Path, *, render_into: str | Path | None = None, echo: Echo | None = None) -> Subject:
    """What to run: a folder towergen rendered (``OUT/<name>``: the file its manifest records is
    loaded when it exists), or an environment file, loaded once and, with ``render_into``,
    rendered there first (as ``towergen render`` does: the manifest stays current)."""
    from .run.workspace import Subject

    path = Path(source)
    if _is_rendered_folder(path):
        root, name = path.absolute().parent, path.absolute().name
        # the file a manifest names is read only inside a repository (the output folder's, the
        # current folder's), or beside the output folder
        recorded = recorded_source(root, name, [repository_of(root / MANIFEST), repository_of(Path.cwd() / MANIFEST), root.parent])
        loaded = load_all([recorded])[0] if recorded is not None else None
        return Subject(name, loaded, root)
    (loaded,) = load_all([path])
    if render_into is None:
        return Subject(loaded.env.name, loaded)
    out = output_path(render_into).absolute()
    written = _write([loaded], render_files([loaded]), out)
    if echo is not None:
        echo(f"towergen render: {source} into {out / loaded.env.name} ({written.summary})")
    return Subject(loaded.env.name, loaded, out)


def fleet_names(sources: list[str | Path] | list[Path]) -> list[str]:
    """The environment each source runs (a file's name, a rendered folder's folder name), after
    the rules across files: two sources naming one environment would run in one folder at once
    (and share a saved plan), so they are refused as ``render`` refuses them."""
    paths = [Path(s) for s in sources]
    files = [p for p in paths if not _is_rendered_folder(p)]
    by_file = dict(zip(map(str, files), (item.env.name for item in load_all(files)), strict=True))
    names: list[str] = []
    seen: dict[str, str] = {}
    for source, path in zip(sources, paths, strict=True):
        name = by_file.get(str(path)) or path.absolute().name
        if name in seen:
            from .errors import TowergenError

            raise TowergenError(f"{source} and {seen[name]} both run the environment {name}: give each environment once")
        seen[name] = str(source)
        names.append(name)
    return names


def _is_rendered_folder(path: Path) -> bool:
    return path.is_dir() and (path / "main.tf").is_file() and (path.parent / "modules").is_dir()


def terraform(command: str, source: str | Path, *, target: str = "local", echo: Echo | None = None,
              out: str | Path | None = None, endpoint: str | None = None,
              plugin_mirror: str | Path | None = None, auto_approve: bool = False,
              confirm: Callable[[str], bool] | None = None) -> Outcome:
    """``terraform plan|apply|destroy`` for an environment file or rendered folder on ``target``
    (local, localstack, aws); progress goes to ``echo`` (default: print). With an environment file
    and ``--target aws`` it is rendered into ``out`` (default: infra) first.

    On aws, apply without a plan saved by ``plan``, and destroy, show Terraform's plan and go
    ahead only when ``auto_approve`` or ``confirm(question)`` says so; with neither they refuse."""
    from .run.runner import Approval, run
    from .run.targets import target_named

    chosen = target_named(target, endpoint=endpoint)
    chosen.check_command(command)
    what = subject(source, render_into=(out or DEFAULT_OUT) if not chosen.emulator else None, echo=echo or print)
    return run(what, command, chosen, echo or print, plugin_mirror=plugin_mirror,
               approval=Approval(auto_approve, confirm))


def plan(source: str | Path, **options: object) -> Outcome:
    """``terraform plan`` (exit code 0: no changes, 2: changes); see ``terraform``."""
    return terraform("plan", source, **options)  # type: ignore[arg-type]


def apply(source: str | Path, **options: object) -> Outcome:
    """``terraform apply`` (on aws: exactly the plan ``plan`` saved, if there is one)."""
    return terraform("apply", source, **options)  # type: ignore[arg-type]


def destroy(source: str | Path, *, target: str = "aws", **options: object) -> Outcome:
    """``terraform destroy`` (localstack or aws: the embedded emulator keeps no state)."""
    return terraform("destroy", source, target=target, **options)  # type: ignore[arg-type]


def smoke(source: str | Path, *, target: str = "local", echo: Echo | None = None, endpoint: str | None = None,
          plugin_mirror: str | Path | None = None) -> SmokeReport:
    """On an emulator: apply, check the AWS objects, re-plan, destroy, check nothing is left."""
    from .run.targets import target_named
    from .smoketest.phases import smoke as run_smoke

    started = time.monotonic()
    chosen = target_named(target, endpoint=endpoint)
    chosen.check_command("smoke")
    return run_smoke(subject(source), chosen, echo or print, plugin_mirror=plugin_mirror, started=started)
