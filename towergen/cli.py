"""The towergen command line: thin commands over the library API.

Exit codes (every command):
  0   success (``plan``: no changes; ``smoke``: every phase passed; ``render --check``: the
      output folder is up to date)
  1   invalid environment file, a failed Terraform run or smoke, or any error towergen reports;
      ``render --check``: the output folder differs from what the files render
  2   ``plan`` only: the plan has changes (as ``terraform plan -detailed-exitcode``)
  64  the command line itself is wrong (unknown option, missing argument)
  130 interrupted (Ctrl-C); the message says whether the output folder was left part old,
      part new
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Any
from collections.abc import Callable

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import Interrupted, SpecError, TowergenError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_USAGE = 64
EXIT_INTERRUPTED = 130


class _Group(TyperGroup):
    """Click's usage errors exit with 2, which ``plan`` uses for "changes": map them to 64."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            click_echo_err("Aborted.")
            sys.exit(EXIT_ERROR)
        except Exception as exc:
            # Click's exceptions (vendored by recent Typer, so matched by shape, not by class)
            if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
                exc.show()
                sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
            raise
        sys.exit(code if isinstance(code, int) else EXIT_OK)


app = typer.Typer(
    cls=_Group,
    help="Render AWS Batch environments for Nextflow from YAML into Terraform, and run them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"towergen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """towergen: AWS Batch environments for Nextflow as code."""


def _err(message: str) -> None:
    typer.echo(message, err=True)


click_echo_err = _err


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn towergen's errors into messages on stderr and exit codes; never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SpecError as exc:
            for problem in exc.problems:
                _err(f"error: {problem}")
            files = len({p.file for p in exc.problems})
            count = len(exc.problems)
            _err(
                f"towergen: {count} problem{'s' if count != 1 else ''} in {files} file{'s' if files != 1 else ''}; "
                "nothing was written"
            )
            raise typer.Exit(EXIT_ERROR) from None
        except Interrupted as exc:
            _err(f"towergen: {exc}")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except TowergenError as exc:
            _err(f"towergen: {exc}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def _warn(warnings: list) -> None:
    for warning in warnings:
        _err(f"warning: {warning}")


FilesArg = Annotated[
    list[Path],
    typer.Argument(metavar="FILE", help="Environment files (YAML, format version 1).", show_default=False),
]


@app.command()
@reports_errors
def render(
    files: FilesArg,
    out: Annotated[
        str, typer.Option("-o", "--out", metavar="DIR", show_default=False,
                          help="Output folder: each environment goes to DIR/<name>/, modules to DIR/modules/, "
                               "the manifest to DIR/towergen-manifest.json.")
    ],
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 listing what differs when DIR is not exactly what the files render.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove the generated files of environments whose file is gone (destroy them first).")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print only the summary line.")] = False,
) -> None:
    """Render environment files into Terraform (writes nothing unless every file is valid)."""
    from . import render as render_api

    try:
        result = render_api(files, out, check=check, prune=prune)
    except KeyboardInterrupt:
        _err("towergen: interrupted; nothing was written")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    _warn(result.warnings)
    counts: dict[str, int] = {}
    for change in result.changes:
        counts[change.action] = counts.get(change.action, 0) + 1
        if check:
            if change.action != "identical" and not quiet:
                typer.echo(f"{_WOULD[change.action]:>9}  {Path(out) / change.path}")
        elif not quiet:
            typer.echo(f"{change.action:>9}  {Path(out) / change.path}")
    summary = ", ".join(f"{counts[a]} {a}" for a in ("create", "overwrite", "delete", "identical") if a in counts)
    envs = len(result.environments)
    if check:
        differs = sum(counts.get(a, 0) for a in _WOULD)
        if differs:
            what = ", ".join(f"{counts[a]} to {_WOULD[a]}" for a in _WOULD if a in counts)
            typer.echo(f"{out} is out of date: {differs} file{'s' if differs != 1 else ''} differ ({what}); "
                       f"run towergen render{' --prune' if prune else ''} and commit the result")
            raise typer.Exit(EXIT_ERROR)
        typer.echo(f"{out} is up to date with {envs} environment{'s' if envs != 1 else ''} ({summary})")
        return
    typer.echo(f"rendered {envs} environment{'s' if envs != 1 else ''} into {out}: {summary}")


# What render --check prints for each file that differs: what rendering would do to it.
_WOULD = {"create": "create", "overwrite": "change", "delete": "delete"}


@app.command()
@reports_errors
def validate(files: FilesArg) -> None:
    """Check environment files and render them in memory, writing nothing."""
    from . import check

    rendered, warnings = check(files)
    _warn(warnings)
    from .yamlsafe import display_name

    for path in files:
        typer.echo(f"ok  {display_name(path)}")


@app.command()
@reports_errors
def changed(
    since: Annotated[str, typer.Option("--since", metavar="REV", help="A git revision (commit, branch, tag) to compare with.", show_default=False)],
    out: Annotated[str, typer.Option("-o", "--out", metavar="DIR", help="The output folder holding towergen-manifest.json.")] = "infra",
) -> None:
    """Print the environments whose rendered output changed since a git revision, one per line."""
    from . import changed as changed_api

    result = changed_api(since, out)
    for name in result.removed:
        _err(f"note: {name} was removed from {out} since {since} (not printed)")
    for name in result.changed:
        typer.echo(name)


SourcesArg = Annotated[
    list[Path],
    typer.Argument(metavar="FILE...", help="Environment files, or folders towergen rendered (OUT/<name>); several run side by side.", show_default=False),
]
SourceArg = Annotated[
    Path,
    typer.Argument(metavar="FILE", help="An environment file, or a folder towergen rendered (OUT/<name>).", show_default=False),
]
TargetOpt = Annotated[
    str,
    typer.Option("--target", "-t", help="local (embedded moto emulator), localstack, or aws."),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option("--endpoint", help="LocalStack's URL (default: from LOCALSTACK_HOST / AWS_ENDPOINT_URL, else http://localhost:4566)."),
]
MirrorOpt = Annotated[
    Path | None,
    typer.Option("--plugin-mirror", envvar="TOWERGEN_PLUGIN_MIRROR", help="A provider mirror folder for terraform init -plugin-dir (offline machines)."),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("-o", "--out", help="aws target only: where to render an environment file (default: infra)."),
]
JobsOpt = Annotated[
    int | None,
    typer.Option("--jobs", "-j", min=1, max=64, help="With several FILEs: how many run at once (default: the cores, at most 4)."),
]
ReportOpt = Annotated[
    Path | None,
    typer.Option("--json-report", help="Also write the result as JSON to this file (for CI)."),
]


def _check_target(target: str, allowed: tuple[str, ...]) -> None:
    if target not in allowed:
        raise typer.BadParameter(f"expected one of {', '.join(allowed)}, found {target!r}", param_hint="--target")


def _write_report(path: Path | None, data: Any) -> None:
    if path is not None:
        try:
            Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise TowergenError(f"cannot write the JSON report {path}: {exc.strerror or exc}") from None


def _fleet(command: str, sources: list[Path], target: str, endpoint, plugin_mirror, out, jobs, report) -> None:
    """Several environments: each in a child process, side by side, then one summary table."""
    from .fleet import fleet_exit_code, run_fleet

    options = ["--target", target]
    if endpoint:
        options += ["--endpoint", endpoint]
    if plugin_mirror:
        options += ["--plugin-mirror", str(plugin_mirror)]
    if out:
        options += ["-o", str(out)]
    results = run_fleet(command, [str(s) for s in sources], options, typer.echo, jobs=jobs)
    _write_report(report, [{"source": r.source, "exit_code": r.exit_code, **r.report} for r in results])
    raise typer.Exit(fleet_exit_code(command, results))


def _terraform_command(command: str, sources: list[Path], target: str, endpoint, plugin_mirror, out,
                       jobs=None, report=None) -> None:
    import towergen
    from .targets import TARGETS

    _check_target(target, TARGETS)
    if len(sources) > 1:
        _fleet(command, sources, target, endpoint, plugin_mirror, out, jobs, report)
    library = {"plan": towergen.plan, "apply": towergen.apply, "destroy": towergen.destroy}[command]
    outcome = library(sources[0], target=target, echo=typer.echo, out=out, endpoint=endpoint, plugin_mirror=plugin_mirror)
    _write_report(report, outcome.as_report())
    raise typer.Exit(outcome.exit_code if outcome.ok else EXIT_ERROR)


@app.command()
@reports_errors
def plan(sources: SourcesArg, target: TargetOpt = "local", endpoint: EndpointOpt = None,
         plugin_mirror: MirrorOpt = None, out: OutOpt = None, jobs: JobsOpt = None, json_report: ReportOpt = None) -> None:
    """Run terraform plan for environments. Exit 0: no changes, 2: changes (in any), 1: error (in any)."""
    _terraform_command("plan", sources, target, endpoint, plugin_mirror, out, jobs, json_report)


@app.command()
@reports_errors
def apply(source: SourceArg, target: TargetOpt = "local", endpoint: EndpointOpt = None,
          plugin_mirror: MirrorOpt = None, out: OutOpt = None, json_report: ReportOpt = None) -> None:
    """Run terraform apply for an environment, with live progress."""
    _terraform_command("apply", [source], target, endpoint, plugin_mirror, out, report=json_report)


@app.command()
@reports_errors
def destroy(source: SourceArg, target: TargetOpt = "local", endpoint: EndpointOpt = None,
            plugin_mirror: MirrorOpt = None, out: OutOpt = None, json_report: ReportOpt = None) -> None:
    """Run terraform destroy for an environment, with live progress."""
    _terraform_command("destroy", [source], target, endpoint, plugin_mirror, out, report=json_report)


@app.command()
@reports_errors
def smoke(sources: SourcesArg, target: TargetOpt = "local", endpoint: EndpointOpt = None,
          plugin_mirror: MirrorOpt = None, jobs: JobsOpt = None, json_report: ReportOpt = None) -> None:
    """On an emulator: apply, check the AWS objects, re-plan (no drift), destroy, check nothing is left."""
    import towergen

    _check_target(target, ("local", "localstack"))
    if len(sources) > 1:
        _fleet("smoke", sources, target, endpoint, plugin_mirror, None, jobs, json_report)
    report = towergen.smoke(sources[0], target=target, echo=typer.echo, endpoint=endpoint, plugin_mirror=plugin_mirror)
    _write_report(json_report, report.as_report())
    raise typer.Exit(EXIT_OK if report.ok else EXIT_ERROR)


@app.command()
def schema(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the key reference as a Markdown table instead.")] = False,
) -> None:
    """Print the JSON Schema of the environment file (for editors), or its key reference."""
    if markdown:
        from .reference import markdown as reference

        typer.echo(reference(), nl=False)
        return
    from .loader import file_schema

    typer.echo(json.dumps(file_schema(), indent=2, ensure_ascii=False))


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
