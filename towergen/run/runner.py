"""Running an environment's Terraform on a target: init, then plan, apply or destroy with live
progress. Where it runs is ``targets/``; the progress lines and the outcome ``progress.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import TerraformError
from .progress import Echo, JsonProgress, Outcome, summarise
from .targets import Target
from .terraform import Terraform
from .workspace import Subject, Workspace

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


def run(subject: Subject, command: str, target: Target, echo: Echo, *,
        plugin_mirror: str | Path | None = None) -> Outcome:
    """``towergen plan|apply|destroy``: prepare, init, run; report through ``echo``."""
    if command not in COMMANDS:
        raise ValueError(command)
    target.check_command(command)
    tf = Terraform.discover(plugin_mirror)
    with target.workspace(subject) as ws:
        target.check_services(ws, command)
        with target.running(ws):
            echo(f"towergen {command}: {ws.name} on {target.describe(ws)}")
            terraform_init(tf, ws, echo)
            outcome = terraform_command(tf, ws, command, echo)
        if not target.keeps_state and command == "apply":
            echo("  (the embedded emulator and its state are gone: towergen smoke runs apply, checks and destroy in one go)")
    summarise(outcome, echo)
    return outcome
