"""Running an environment's Terraform on a target: init, then plan, apply or destroy with live
progress. Where it runs is ``targets.py``; LocalStack's checks ``localstack.py``; the progress
lines and the outcome ``progress.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .emulator import MotoServer, write_override
from .errors import TerraformError, TowergenError
from .localstack import check_localstack, services_needed
from .progress import Echo, JsonProgress, Outcome, summarise
from .targets import Workspace, workspace
from .terraform import Terraform

COMMANDS = ("plan", "apply", "destroy")


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


@contextmanager
def _plugin_cache_lock(tf: Terraform) -> Iterator[None]:
    """Terraform's provider cache is not safe for inits running at once (a fleet run shares
    one): take turns on a lock file inside it."""
    cache = tf.environment().get("TF_PLUGIN_CACHE_DIR")
    if not cache or not Path(cache).is_dir():
        yield
        return
    import fcntl

    with open(Path(cache) / ".towergen-init.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def terraform_init(tf: Terraform, ws: Workspace, echo: Echo) -> float:
    started = time.monotonic()
    with _plugin_cache_lock(tf):
        result = tf.run(*argv_for("init"), cwd=ws.root, extra_env=ws.terraform_env(), check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise TerraformError(f"terraform init failed in {ws.root}:\n{result.stdout.rstrip()}")
    echo(f"  init       done ({seconds:.1f} s)")
    return seconds


def terraform_command(tf: Terraform, ws: Workspace, command: str, echo: Echo) -> Outcome:
    """Run plan, apply or destroy with live progress. ``plan`` exits 0 (no changes) or 2."""
    outcome = Outcome(command, 1, 0.0, environment=ws.name)
    progress = JsonProgress(echo, outcome)
    started = time.monotonic()
    plan_file = ws.plan_file if command == "plan" or (command == "apply" and ws.plan_file and ws.plan_file.exists()) else None
    if command == "apply" and plan_file:
        echo(f"  applying the plan saved by towergen plan ({plan_file}); Terraform refuses it if it is stale")
    argv = argv_for(command, plan_file=plan_file)
    result = tf.run(argv[0], *argv[1:], cwd=ws.root, extra_env=ws.terraform_env(), on_line=progress, check=False)
    outcome.seconds = time.monotonic() - started
    outcome.exit_code = result.returncode
    seen = len(outcome.diagnostics)
    outcome.require_summary()
    if not outcome.ok and not outcome.diagnostics:
        outcome.diagnostics.append(result.stdout.strip() or f"terraform exited {result.returncode}")
    for text in outcome.diagnostics[seen:]:
        echo(text)
    if plan_file and command == "plan" and outcome.exit_code == 2:
        # the reviewable diff, as Terraform prints it
        shown = tf.run("show", "-no-color", str(plan_file), cwd=ws.root, extra_env=ws.terraform_env(), check=False)
        for line in shown.stdout.rstrip().splitlines():
            echo(line)
        echo(f"  saved the plan to {plan_file}: towergen apply --target aws applies exactly this plan")
    if plan_file and command == "apply" and outcome.ok:
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
    summarise(outcome, echo)
    return outcome
