"""The towergen command line: thin commands over the library API (``towergen/api.py``).

Exit codes (every command):
  0   success (``plan``: no changes; ``smoke``: every phase passed; ``render --check``: the
      output folder is up to date)
  1   invalid environment file, a failed Terraform run or smoke, or any error towergen reports;
      ``render --check``: the output folder differs from what the files render
  2   ``plan`` only: the plan has changes (as ``terraform plan -detailed-exitcode``)
  64  the command line itself is wrong (unknown option, missing argument)
  130 interrupted (Ctrl-C); the message says what state things were left in

Errors and interrupts are turned into messages and exit codes in one place
(``report_errors``), for every command.
"""

from __future__ import annotations

import enum
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from . import __version__
from .errors import Interrupted, SpecError, TowergenError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_USAGE = 64
EXIT_INTERRUPTED = 130

T = TypeVar("T")


class _Group(TyperGroup):
    """Click's usage errors exit with 2, which ``plan`` uses for "changes": map them to 64."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        standalone = kwargs.pop("standalone_mode", True)
        kwargs["standalone_mode"] = False
        if not standalone:
            return super().main(*args, **kwargs)
        try:
            code = super().main(*args, **kwargs)
        except typer.Abort:
            _err("Aborted.")
            sys.exit(EXIT_ERROR)
        except Exception as exc:
            # Click's exceptions (vendored by recent Typer, so matched by shape, not by class)
            exit_code = getattr(exc, "exit_code", None)
            if hasattr(exc, "show") and isinstance(exit_code, int):
                exc.show()
                sys.exit(EXIT_USAGE if exit_code == 2 else exit_code)
            raise
        sys.exit(code if isinstance(code, int) else EXIT_OK)


class _Command(TyperCommand):
    """Help in words: placeholders as ``FILE...`` and ``N``, ranges as "1 to 64", never a Python
    type (Typer prints ``{FILE}...``, ``<list[Path]>`` and ``1<=x<=64``, differently by release)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.params:
            if param.param_type_name == "argument":
                # the name as the user types it, without Typer's type label or braces
                name = param.metavar or (param.name or "").upper()
                param.display_type_rich = lambda ctx: None  # type: ignore[attr-defined]
                param._usage_display_name = lambda name=name: name  # type: ignore[attr-defined]
        inner = ctx.make_formatter()
        super().format_help(ctx, inner)
        formatter.write(plain_help(inner.getvalue()))


def plain_help(text: str) -> str:
    import re

    text = re.sub(r"\{([A-Z][A-Z_.]*)\}", r"\1", text)  # {FILE...} -> FILE...
    text = re.sub(r"([A-Z]\.\.\.)\.\.\.", r"\1", text)  # FILE...... -> FILE...
    text = re.sub(r" <(?:list\[[A-Za-z]+\]|[A-Za-z]+(?: range)?)>", "", text)
    text = re.sub(r"(-?\d+)<=x<=(-?\d+)", r"\1 to \2", text)
    return text


app = typer.Typer(
    cls=_Group,
    help="Render AWS Batch environments for Nextflow from YAML into Terraform, and run them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
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


# The targets each command accepts (towergen.run.targets: each target's ``commands``; a test
# keeps the two equal without importing the run side here).
_TARGETS = {
    # what each command accepts (towergen.run.targets: each target's ``commands``)
    "plan": ("local", "localstack", "aws"),
    "apply": ("local", "localstack", "aws"),
    "destroy": ("localstack", "aws"),
    "smoke": ("local", "localstack"),
}

# What an interrupt (Ctrl-C) leaves, by command, when towergen itself has nothing more precise
# to say (the writer says when the output folder is part old, part new).
_INTERRUPTED = {
    "render": "interrupted; nothing was written",
    "validate": "interrupted; nothing was written",
}
_INTERRUPTED_TERRAFORM = (
    "interrupted; Terraform was stopped too (it finishes the call under way): run the command again to "
    "see what is left"
)


def report_errors(run: Callable[[], T], *, interrupted: str = "interrupted") -> T:
    """Run ``run``; turn towergen's errors and Ctrl-C into messages on stderr and exit codes
    (``typer.Exit``), never a traceback."""
    try:
        return run()
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
    except KeyboardInterrupt:
        _err(f"towergen: {interrupted}")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except TowergenError as exc:
        _err(f"towergen: {exc}")
        raise typer.Exit(exc.exit_code) from None


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """``report_errors`` around a command."""

    interrupted = _INTERRUPTED.get(command.__name__, _INTERRUPTED_TERRAFORM if command.__name__ in _TARGETS else "interrupted")

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return report_errors(lambda: command(*args, **kwargs), interrupted=interrupted)

    return wrapper


def _warn(warnings: list[Any]) -> None:
    for warning in warnings:
        _err(f"warning: {warning}")


FilesArg = Annotated[
    list[Path],
    typer.Argument(metavar="FILE...", help="Environment files (YAML, format version 1).", show_default=False),
]


@app.command(cls=_Command, short_help='Render environment files into Terraform.')
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
        bool, typer.Option("--prune", help="Remove the generated files of environments whose file is gone (destroy them first: "
                                           "a folder whose state holds resources, or is remote, is refused).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --prune: remove towergen's files even where the state may hold resources "
                                           "(the state itself is never removed).")
    ] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="List every file, then the summary (by default: the summary, "
                                                                 "and each file deleted).")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print only the summary line (--check: not the files that differ).")] = False,
) -> None:
    """Render environment files into Terraform (writes nothing unless every file is valid)."""
    from . import api

    result = api.render(files, out, check=check, prune=prune, force=force)
    _warn(result.warnings)
    for change in result.changes:
        if check:
            if (change.action != "identical" or verbose) and not quiet:
                typer.echo(f"{_WOULD.get(change.action, change.action):>9}  {Path(out) / change.path}")
        elif verbose or change.action == "delete":  # a deletion is always said
            typer.echo(f"{change.action:>9}  {Path(out) / change.path}")
    counts = {a: sum(c.action == a for c in result.changes) for a in _WOULD}
    summary = result.summary
    envs = len(result.environments)
    if check:
        differs = sum(counts.values())
        if differs:
            what = ", ".join(f"{counts[a]} to {_WOULD[a]}" for a in _WOULD if counts[a])
            typer.echo(f"{out} is out of date: {differs} file{'s' if differs != 1 else ''} differ ({what}); "
                       f"run towergen render{' --prune' if prune else ''} and commit the result")
            raise typer.Exit(EXIT_ERROR)
        typer.echo(f"{out} is up to date with {envs} environment{'s' if envs != 1 else ''} ({summary})")
        return
    typer.echo(f"rendered {envs} environment{'s' if envs != 1 else ''} into {out}: {summary}")


# What render --check prints for each file that differs: what rendering would do to it.
_WOULD = {"create": "create", "overwrite": "change", "delete": "delete"}


@app.command(cls=_Command, short_help='Check environment files, writing nothing.')
@reports_errors
def validate(files: FilesArg) -> None:
    """Check environment files and render them in memory, writing nothing."""
    from . import api
    from .spec.reader import display_name

    _, warnings = api.check(files)
    _warn(warnings)
    for path in files:
        typer.echo(f"ok  {display_name(path)}")


@app.command(cls=_Command, short_help='List the environments changed since a git revision.')
@reports_errors
def changed(
    since: Annotated[str, typer.Option("--since", metavar="REV", help="A git revision (commit, branch, tag) to compare with.", show_default=False)],
    out: Annotated[str, typer.Option("-o", "--out", metavar="DIR", help="The output folder holding towergen-manifest.json.")] = "infra",
) -> None:
    """Print the environments whose rendered output changed since a git revision, one per line."""
    from . import api

    result = api.changed(since, out)
    for name in result.removed:
        _err(f"note: {name} was removed from {out} since {since} (not printed)")
    for name in result.changed:
        typer.echo(name)


# --- commands that run Terraform -------------------------------------------------------------------

_TARGET_HELP = {"local": "the embedded moto emulator", "localstack": "LocalStack", "aws": "your AWS account"}


def _target_choice(command: str) -> type[enum.Enum]:
    """The targets ``command`` accepts, as the choices of its --target option."""
    return enum.Enum(f"{command.title()}Target", {c: c for c in _TARGETS[command]}, type=str)  # type: ignore[return-value]


def _target_option(command: str, *, required: bool = False) -> Any:
    described = "; ".join(f"{c}: {_TARGET_HELP[c]}" for c in _TARGETS[command])
    left_out = [t for t in _TARGET_HELP if t not in _TARGETS[command]]
    if command == "destroy":
        described += "; not local: the embedded emulator keeps nothing between runs"
    elif left_out:
        described += f"; not {', '.join(left_out)}"
    return typer.Option("--target", "-t", help=f"Where to run ({described}).", show_default=not required)


if TYPE_CHECKING:  # made at run time from _TARGETS
    PlanTarget: TypeAlias = enum.Enum
    ApplyTarget: TypeAlias = enum.Enum
    DestroyTarget: TypeAlias = enum.Enum
    SmokeTarget: TypeAlias = enum.Enum
else:
    PlanTarget = _target_choice("plan")
    ApplyTarget = _target_choice("apply")
    DestroyTarget = _target_choice("destroy")
    SmokeTarget = _target_choice("smoke")


SourcesArg = Annotated[
    list[Path],
    typer.Argument(metavar="FILE...", show_default=False,
                   help="Environment files, or folders towergen rendered (OUT/<name>); several run side by side."),
]
SourceArg = Annotated[
    Path,
    typer.Argument(metavar="FILE", help="An environment file, or a folder towergen rendered (OUT/<name>).", show_default=False),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option("--endpoint", metavar="URL", help="LocalStack's URL (default: from LOCALSTACK_HOST / AWS_ENDPOINT_URL, else http://localhost:4566)."),
]
MirrorOpt = Annotated[
    Path | None,
    typer.Option("--plugin-mirror", metavar="DIR", envvar="TOWERGEN_PLUGIN_MIRROR",
                 help="A provider mirror folder for terraform init -plugin-dir (offline machines)."),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("-o", "--out", metavar="DIR", help="aws target only: where to render an environment file (default: infra)."),
]
JobsOpt = Annotated[
    int | None,
    typer.Option("--jobs", "-j", metavar="N", min=1, max=64,
                 help="With several FILEs: how many run at once, 1 to 64 (default: the cores, at most 4)."),
]
ApproveOpt = Annotated[
    bool,
    typer.Option("--auto-approve", help="aws target: go ahead without asking (CI). Without it towergen shows the plan and asks "
                                        "on a terminal, and refuses when there is none; a plan saved by towergen plan is "
                                        "applied as it is."),
]
ReportOpt = Annotated[
    Path | None,
    typer.Option("--json-report", metavar="PATH", help="Also write the result as JSON to this file (for CI)."),
]


def _write_report(path: Path | None, data: Any) -> None:
    if path is not None:
        try:
            Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise TowergenError(f"cannot write the JSON report {path}: {exc.strerror or exc}") from None


def _fleet(command: str, sources: list[Path], target: str, endpoint: str | None, plugin_mirror: Path | None,
           out: Path | None, jobs: int | None, report: Path | None) -> None:
    """Several environments: each in a child process, side by side, then one summary table."""
    from . import api
    from .fleet import Request, fleet_exit_code, run_fleet

    api.fleet_names(sources)  # every file valid, each environment once, before any child starts
    requests = [
        Request(command, str(s), target, endpoint, str(plugin_mirror) if plugin_mirror else None, str(out) if out else None)
        for s in sources
    ]
    results = run_fleet(requests, typer.echo, jobs=jobs)
    _write_report(report, [{"source": r.source, "exit_code": r.exit_code, **r.report} for r in results])
    raise typer.Exit(fleet_exit_code(command, results))


def _ask(question: str) -> bool:
    return typer.confirm(question, default=False, err=True)


def _terraform_command(command: str, sources: list[Path], target: str, endpoint: str | None,
                       plugin_mirror: Path | None, out: Path | None, jobs: int | None = None,
                       report: Path | None = None, auto_approve: bool = False) -> None:
    from . import api

    if len(sources) > 1:
        _fleet(command, sources, target, endpoint, plugin_mirror, out, jobs, report)
    # a question only where a person can answer it
    confirm = _ask if sys.stdin.isatty() and sys.stderr.isatty() else None
    outcome = api.terraform(command, sources[0], target=target, echo=typer.echo, out=out, endpoint=endpoint,
                            plugin_mirror=plugin_mirror, auto_approve=auto_approve, confirm=confirm)
    _write_report(report, outcome.as_report())
    raise typer.Exit(outcome.exit_code if outcome.ok else EXIT_ERROR)


@app.command(cls=_Command, short_help='Run terraform plan (exit 2: there are changes).')
@reports_errors
def plan(sources: SourcesArg, target: Annotated[PlanTarget, _target_option("plan")] = PlanTarget("local"),
         endpoint: EndpointOpt = None, plugin_mirror: MirrorOpt = None, out: OutOpt = None, jobs: JobsOpt = None,
         json_report: ReportOpt = None) -> None:
    """Run terraform plan for environments. Exit 0: no changes, 2: changes (in any), 1: error (in any)."""
    _terraform_command("plan", sources, target.value, endpoint, plugin_mirror, out, jobs, json_report)


@app.command(cls=_Command, short_help='Run terraform apply (on aws: shows the plan, asks).')
@reports_errors
def apply(source: SourceArg, target: Annotated[ApplyTarget, _target_option("apply")] = ApplyTarget("local"),
          endpoint: EndpointOpt = None, plugin_mirror: MirrorOpt = None, out: OutOpt = None,
          auto_approve: ApproveOpt = False, json_report: ReportOpt = None) -> None:
    """Run terraform apply for an environment, with live progress (on aws: asks first)."""
    _terraform_command("apply", [source], target.value, endpoint, plugin_mirror, out, report=json_report,
                       auto_approve=auto_approve)


@app.command(cls=_Command, short_help='Run terraform destroy (on aws: shows the plan, asks).')
@reports_errors
def destroy(source: SourceArg, target: Annotated[DestroyTarget, _target_option("destroy", required=True)],
            endpoint: EndpointOpt = None, plugin_mirror: MirrorOpt = None, out: OutOpt = None,
            auto_approve: ApproveOpt = False, json_report: ReportOpt = None) -> None:
    """Run terraform destroy for an environment, with live progress (on aws: asks first)."""
    _terraform_command("destroy", [source], target.value, endpoint, plugin_mirror, out, report=json_report,
                       auto_approve=auto_approve)


@app.command(cls=_Command, short_help='Apply, check, re-plan and destroy on an emulator.')
@reports_errors
def smoke(sources: SourcesArg, target: Annotated[SmokeTarget, _target_option("smoke")] = SmokeTarget("local"),
          endpoint: EndpointOpt = None, plugin_mirror: MirrorOpt = None, jobs: JobsOpt = None,
          json_report: ReportOpt = None) -> None:
    """On an emulator: apply, check the AWS objects, re-plan (no drift), destroy, check nothing is left."""
    from . import api

    if len(sources) > 1:
        _fleet("smoke", sources, target.value, endpoint, plugin_mirror, None, jobs, json_report)
    report = api.smoke(sources[0], target=target.value, echo=typer.echo, endpoint=endpoint, plugin_mirror=plugin_mirror)
    _write_report(json_report, report.as_report())
    raise typer.Exit(EXIT_OK if report.ok else EXIT_ERROR)


@app.command(cls=_Command, short_help="Print the environment file's JSON Schema.")
def schema(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the key reference as a Markdown table instead.")] = False,
    base: Annotated[bool, typer.Option("--base", help="The schema of a base file (one that others extend: no key required).")] = False,
) -> None:
    """Print the JSON Schema of the environment file (for editors), or its key reference."""
    if markdown:
        from .spec.reference import markdown as reference

        typer.echo(reference(), nl=False)
        return
    from .spec.schema import file_schema

    typer.echo(json.dumps(file_schema(base=base), indent=2, ensure_ascii=False))


@app.command("fleet-child", hidden=True, cls=_Command)
def fleet_child(report_path: Annotated[Path, typer.Argument(metavar="PATH")]) -> None:
    """One environment of a fleet run (a Request as JSON on standard input; see towergen.fleet)."""
    from . import api
    from .fleet import Request

    def run() -> int:
        request = Request.from_json(sys.stdin.read())
        if request.command == "smoke":
            report = api.smoke(request.source, target=request.target, echo=typer.echo, endpoint=request.endpoint,
                               plugin_mirror=request.plugin_mirror)
            data, code = report.as_report(), EXIT_OK if report.ok else EXIT_ERROR
        else:
            outcome = api.terraform(request.command, request.source, target=request.target, echo=typer.echo,
                                    out=request.out, endpoint=request.endpoint, plugin_mirror=request.plugin_mirror)
            data, code = outcome.as_report(), outcome.exit_code if outcome.ok else EXIT_ERROR
        _write_report(report_path, data)
        return code

    raise typer.Exit(report_errors(run, interrupted=_INTERRUPTED_TERRAFORM))


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
