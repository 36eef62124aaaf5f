"""Running an environment's Terraform against a target: the embedded emulator, LocalStack or AWS.

- ``local``: an embedded moto server on a free loopback port, started and stopped here. The
  environment is rendered (or copied from a rendered folder) into a temporary folder with the
  generated provider override; its state is thrown away with the emulator.
- ``localstack``: the same override aimed at a LocalStack endpoint (``--endpoint``, else
  localstack-client's settings: ``AWS_ENDPOINT_URL``, ``LOCALSTACK_HOST``, ``USE_SSL``; by
  default http://localhost:4566). LocalStack outlives a run, so its state is kept outside the
  repository, in ``$XDG_CACHE_HOME/towergen/localstack/<host>/<environment>/``.
- ``aws``: plain Terraform in the rendered folder, with the user's credentials, backend and state.

Emulator runs never write into the user's output tree: they copy only the files towergen
generates (never a backend or state file, the user's or towergen's own backend.tf) and work on
the copy.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .build import BACKEND_FILE, ENV_FILES, load_all, render_files, write_tree
from .emulator import SERVICES, MotoServer, write_override
from .errors import EmulatorError, TerraformError, TowergenError
from .loader import Loaded
from .resources import MODULES
from .terraform import Terraform

TARGETS = ("local", "localstack", "aws")
COMMANDS = ("plan", "apply", "destroy")

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


def argv_for(command: str, *, detailed: bool = True, plan_file: Path | None = None) -> list[str]:
    """Terraform's arguments for one towergen command (after ``terraform``). On AWS, ``plan``
    saves the plan to ``plan_file`` and ``apply`` applies exactly that saved plan."""
    if command == "init":
        return ["init", "-input=false", "-no-color"]
    if command == "plan":
        out = [f"-out={plan_file}"] if plan_file else []
        return ["plan", "-input=false", "-no-color", "-json"] + (["-detailed-exitcode"] if detailed else []) + out
    if command == "apply":
        if plan_file:
            return ["apply", "-input=false", "-no-color", "-json", str(plan_file)]
        return ["apply", "-input=false", "-no-color", "-json", "-auto-approve"]
    if command == "destroy":
        return ["apply", "-destroy", "-input=false", "-no-color", "-json", "-auto-approve"]
    raise ValueError(command)


# --- preparing a workspace ---------------------------------------------------------------------------


def _is_rendered_folder(path: Path) -> bool:
    return path.is_dir() and (path / "main.tf").is_file() and (path.parent / "modules").is_dir()


def localstack_endpoint(given: str | None = None) -> str:
    if given:
        return given.rstrip("/")
    try:
        from localstack_client.config import get_service_endpoint
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise EmulatorError("the localstack target needs localstack-client: pip install 'towergen[emulator]'") from exc
    return (get_service_endpoint("s3") or "http://localhost:4566").rstrip("/")


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "towergen"


@contextmanager
def workspace(source: str | Path, target: str, *, out: str | Path | None = None,
              endpoint: str | None = None) -> Iterator[Workspace]:
    """Prepare the folder Terraform runs in, for ``source`` (an environment file or a rendered
    environment folder) on ``target``; an emulator workspace is removed afterwards."""
    if target not in TARGETS:
        raise TowergenError(f"unknown target {target!r}: expected one of {', '.join(TARGETS)}")
    source = Path(source)
    loaded: Loaded | None = None
    if _is_rendered_folder(source):
        rendered_root, name = source.parent, source.name
    else:
        (loaded,) = load_all([source])
        name = loaded.env.name
        rendered_root = None

    if target == "aws":
        if rendered_root is None:
            out_dir = Path(out or "infra")
            write_tree(out_dir, render_files([loaded]), [name])
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


# --- LocalStack: which services answer --------------------------------------------------------------

LOCALSTACK_PAID = {"batch", "ecs", "fsx"}


def services_needed(loaded: Loaded | None, command: str) -> list[str]:
    """The AWS services a command touches for this environment."""
    if loaded is None:  # a rendered folder: what any environment may use
        return ["ec2", "s3", "ssm", "sts"] if command == "plan" else list(SERVICES)
    env = loaded.env
    needed = {"sts", "iam", "s3"}
    if env.mode == "manual":
        needed.add("batch")
    else:
        needed |= {"ec2", "ssm", "batch"}
        if env.fsx is not None and env.fsx.create is not None:
            needed.add("fsx")
    if command == "plan":  # a plan of new resources only reads data sources
        needed &= {"sts", "ec2", "ssm", "s3"} | ({"batch"} if env.mode == "manual" else set())
    return sorted(needed)


def check_localstack(endpoint: str, services: list[str]) -> None:
    """Stop, with an explanation, when LocalStack does not provide a service the run needs."""
    url = f"{endpoint}/_localstack/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            health = json.loads(response.read().decode("utf-8") or "{}")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return  # not LocalStack itself (another emulator speaking the AWS protocol)
        raise EmulatorError(f"LocalStack at {endpoint} answered {exc.code} to {url}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise EmulatorError(
            f"no LocalStack answers at {endpoint} ({exc}); start it, or set LOCALSTACK_HOST or --endpoint"
        ) from exc
    states = health.get("services") or {}
    missing = [s for s in services if states.get(s) not in ("available", "running")]
    if missing:
        paid = [s for s in missing if s in LOCALSTACK_PAID]
        why = (
            f" LocalStack Community answers 501 for {', '.join(paid)}: they are part of LocalStack's paid plan."
            if paid else ""
        )
        raise EmulatorError(
            f"LocalStack at {endpoint} does not provide {', '.join(missing)}, which this run needs.{why} "
            "Use --target local (the embedded emulator) instead."
        )


# --- running Terraform with progress ------------------------------------------------------------------

Echo = Callable[[str], None]

_VERBS = {
    "create": ("creating", "created"),
    "update": ("updating", "updated"),
    "delete": ("destroying", "destroyed"),
    "replace": ("replacing", "replaced"),
    "read": ("reading", "read"),
    "noop": ("checking", "checked"),
}


@dataclass
class Outcome:
    command: str
    exit_code: int
    seconds: float
    summary: dict[str, int] = field(default_factory=dict)
    refreshed: int = 0  # objects Terraform read back differently without planning a change
    diagnostics: list[str] = field(default_factory=list)
    outputs: dict[str, object] = field(default_factory=dict)


class JsonProgress:
    """Turns Terraform's ``-json`` event stream into one line per resource event."""

    def __init__(self, echo: Echo, outcome: Outcome):
        self.echo = echo
        self.outcome = outcome
        self.started = time.monotonic()
        self.last_progress: dict[str, float] = {}

    def __call__(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            if line.strip():
                self.echo(f"  {line}")
            return
        kind = event.get("type")
        hook = event.get("hook") or {}
        addr = (hook.get("resource") or {}).get("addr", "")
        action = hook.get("action", "")
        doing, done = _VERBS.get(action, (action, action))
        if action == "read" and kind in ("apply_start", "apply_progress", "apply_complete"):
            return  # data sources: quick, and not what a reader is waiting for
        if kind == "apply_start":
            self.echo(f"  {doing:<10} {addr}")
        elif kind == "apply_progress":
            elapsed = hook.get("elapsed_seconds", 0)
            if elapsed - self.last_progress.get(addr, 0) >= 30:
                self.last_progress[addr] = elapsed
                self.echo(f"  {'...':<10} {addr}: still {doing} ({elapsed} s)")
        elif kind == "apply_complete":
            self.echo(f"  {done:<10} {addr} ({hook.get('elapsed_seconds', 0)} s)")
        elif kind == "apply_errored":
            self.echo(f"  {'FAILED':<10} {addr} ({hook.get('elapsed_seconds', 0)} s)")
        elif kind == "planned_change" and self.outcome.command == "plan":
            change = event.get("change") or {}
            res = (change.get("resource") or {}).get("addr", "")
            self.echo(f"  {change.get('action', ''):<10} {res}")
        elif kind == "resource_drift":
            # "changed outside of Terraform": attributes read back after apply (attachments made
            # by other resources, empty tags as {}); a real difference shows as a planned change
            self.outcome.refreshed += 1
        elif kind == "change_summary":
            self.outcome.summary = dict(event.get("changes") or {})
        elif kind == "outputs":
            self.outcome.outputs = {k: v.get("value") for k, v in (event.get("outputs") or {}).items()}
        elif kind == "diagnostic":
            diag = event.get("diagnostic") or {}
            text = f"{diag.get('severity', 'error').capitalize()}: {diag.get('summary', '')}"
            if diag.get("address"):
                text += f"\n  with {diag['address']}"
            if diag.get("detail"):
                text += "\n" + "\n".join(f"  {d}" for d in diag["detail"].splitlines())
            if diag.get("severity") == "error":
                self.outcome.diagnostics.append(text)
            self.echo(text)


def terraform_init(tf: Terraform, ws: Workspace, echo: Echo) -> float:
    started = time.monotonic()
    result = tf.run(*argv_for("init"), cwd=ws.root, extra_env=ws.terraform_env(), check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise TerraformError(f"terraform init failed in {ws.root}:\n{result.stdout.rstrip()}")
    echo(f"  init       done ({seconds:.1f} s)")
    return seconds


def terraform_command(tf: Terraform, ws: Workspace, command: str, echo: Echo) -> Outcome:
    """Run plan, apply or destroy with live progress. ``plan`` exits 0 (no changes) or 2."""
    outcome = Outcome(command, 1, 0.0)
    progress = JsonProgress(echo, outcome)
    started = time.monotonic()
    plan_file = ws.plan_file if command == "plan" or (command == "apply" and ws.plan_file and ws.plan_file.exists()) else None
    if command == "apply" and plan_file:
        echo(f"  applying the plan saved by towergen plan ({plan_file}); Terraform refuses it if it is stale")
    argv = argv_for(command, plan_file=plan_file)
    result = tf.run(argv[0], *argv[1:], cwd=ws.root, extra_env=ws.terraform_env(), on_line=progress, check=False)
    outcome.seconds = time.monotonic() - started
    outcome.exit_code = result.returncode
    ok = (0, 2) if command == "plan" else (0,)
    if result.returncode not in ok and not outcome.diagnostics:
        outcome.diagnostics.append(result.stdout.strip() or f"terraform exited {result.returncode}")
    if plan_file and command == "plan" and result.returncode == 2:
        # the reviewable diff, as Terraform prints it
        shown = tf.run("show", "-no-color", str(plan_file), cwd=ws.root, extra_env=ws.terraform_env(), check=False)
        for line in shown.stdout.rstrip().splitlines():
            echo(line)
        echo(f"  saved the plan to {plan_file}: towergen apply --target aws applies exactly this plan")
    if plan_file and command == "apply":
        plan_file.unlink(missing_ok=True)
    return outcome


@contextmanager
def emulator_for(ws: Workspace) -> Iterator[str | None]:
    """Start the embedded emulator for a local workspace; the endpoint of an emulator target."""
    if ws.target == "local":
        with MotoServer() as server:
            ws.endpoint = server.endpoint
            write_override(ws.root, server.endpoint)
            yield server.endpoint
    elif ws.target == "localstack":
        write_override(ws.root, ws.endpoint)
        yield ws.endpoint
    else:
        yield None


def describe_target(ws: Workspace) -> str:
    if ws.target == "local":
        try:
            from importlib.metadata import version

            moto = f"moto {version('moto')}"
        except Exception:  # pragma: no cover
            moto = "moto"
        return f"the embedded emulator ({moto} at {ws.endpoint})"
    if ws.target == "localstack":
        return f"LocalStack at {ws.endpoint}"
    return "AWS (your credentials, your backend)"


def run(source: str | Path, command: str, target: str, echo: Echo, *, out: str | Path | None = None,
        endpoint: str | None = None, plugin_mirror: str | Path | None = None) -> Outcome:
    """``towergen plan|apply|destroy``: prepare, init, run; report through ``echo``."""
    if command not in COMMANDS:
        raise ValueError(command)
    if command == "destroy" and target == "local":
        raise TowergenError(
            "nothing to destroy on the embedded emulator: it starts empty for every run and its state "
            "goes with it (towergen smoke applies and destroys in one run; --target localstack or aws "
            "keep state between runs)"
        )
    tf = Terraform.discover(plugin_mirror)
    with workspace(source, target, out=out, endpoint=endpoint) as ws:
        if target == "localstack":
            check_localstack(ws.endpoint, services_needed(ws.loaded, command))
        with emulator_for(ws):
            echo(f"towergen {command}: {ws.name} on {describe_target(ws)}")
            terraform_init(tf, ws, echo)
            outcome = terraform_command(tf, ws, command, echo)
        if target == "local" and command == "apply":
            echo("  (the embedded emulator and its state are gone: towergen smoke runs apply, checks and destroy in one go)")
    _summarise(outcome, echo)
    return outcome


def _summarise(outcome: Outcome, echo: Echo) -> None:
    s = outcome.summary
    counts = f"{s.get('add', 0)} to add, {s.get('change', 0)} to change, {s.get('remove', 0)} to destroy"
    if outcome.command != "plan":
        counts = f"{s.get('add', 0)} added, {s.get('change', 0)} changed, {s.get('remove', 0)} destroyed"
    if outcome.refreshed:
        echo(f"  note: Terraform read {outcome.refreshed} objects back with attributes filled in since the last apply "
             "(refresh only: no change planned for them)")
    if outcome.command == "plan" and outcome.exit_code in (0, 2):
        state = "no changes" if outcome.exit_code == 0 else counts
        echo(f"{outcome.command}: {state} ({outcome.seconds:.1f} s)")
    elif outcome.exit_code == 0:
        echo(f"{outcome.command}: {counts} ({outcome.seconds:.1f} s)")
    else:
        echo(f"{outcome.command} failed after {outcome.seconds:.1f} s")
