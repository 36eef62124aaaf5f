"""Running an environment's Terraform on a target: init, then plan, apply or destroy with live
progress. Where it runs is ``targets/``; the progress lines and the outcome ``progress.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import TerraformError, TowergenError
from .progress import Echo, JsonProgress, Outcome, summarise
from .targets import Target
from .terraform import Terraform, init_hint
from .workspace import Subject, Workspace

COMMANDS = ("plan", "apply", "destroy")

Confirm = Callable[[str], bool]


@dataclass(frozen=True)
class Approval:
    """Whether a change to a real account may go ahead: ``auto`` (``--auto-approve``: CI), or
    the answer of ``confirm`` to a question (a person at a terminal). With neither, towergen
    refuses to apply or destroy without a saved plan on a target that is not an emulator."""

    auto: bool = False
    confirm: Confirm | None = None


NO_APPROVAL = (
    "refusing to change a real AWS account without a question: run this on a terminal to review "
    "the plan and answer it, or pass --auto-approve (for CI, after a reviewed towergen plan)"
)


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
        hint = init_hint(result.stdout, tf.plugin_mirror)
        raise TerraformError(f"terraform init failed in {ws.root}:\n{result.stdout.rstrip()}" + (f"\n{hint}" if hint else ""))
    echo(f"  init       done ({seconds:.1f} s)")
    return seconds


def terraform_command(tf: Terraform, ws: Workspace, command: str, echo: Echo, *,
                      approval: Approval | None = None) -> Outcome:
    """Run plan, apply or destroy with live progress. ``plan`` exits 0 (no changes) or 2.

    On a real account (a target that is not an emulator), apply without a plan saved by
    ``towergen plan`` and destroy first plan what they would do, show Terraform's summary, and go
    ahead only with ``approval`` (see ``Approval``); they then apply exactly the plan shown."""
    saved = ws.plan_file
    if needs_review(ws, command):
        return _reviewed(tf, ws, command, echo, approval or Approval())
    plan_file = saved if command == "plan" or (command == "apply" and saved and saved.exists()) else None
    if command == "apply" and plan_file:
        echo(f"  applying the plan saved by towergen plan ({plan_file}); Terraform refuses it if it is stale")
    return _terraform(tf, ws, command, echo, argv_for(command, plan_file=plan_file), plan_file)


def needs_review(ws: Workspace, command: str) -> bool:
    """Whether ``command`` changes a real account without a plan ``towergen plan`` saved and
    showed (so towergen shows one and asks)."""
    saved = ws.plan_file
    return command in ("apply", "destroy") and not ws.target.emulator and not (command == "apply" and saved is not None and saved.exists())


def _reviewed(tf: Terraform, ws: Workspace, command: str, echo: Echo, approval: Approval) -> Outcome:
    """Plan (``-destroy`` for destroy) into a file of its own, show it, ask, apply that file."""
    if not approval.auto and approval.confirm is None:
        raise TowergenError(NO_APPROVAL)
    review = ws.root / ".terraform" / f"towergen-{command}.tfplan"
    argv = argv_for("plan", plan_file=review) + (["-destroy"] if command == "destroy" else [])
    planned = _terraform(tf, ws, "plan", echo, argv, None)
    if not planned.ok:
        review.unlink(missing_ok=True)
        planned.command = command
        planned.exit_code = planned.exit_code or 1
        return planned
    if planned.exit_code == 0:
        review.unlink(missing_ok=True)
        echo(f"  nothing to {command}: Terraform plans no change")
        return Outcome(command, 0, planned.seconds, environment=ws.name, summarised=True)
    shown = tf.run("show", "-no-color", str(review), cwd=ws.root, extra_env=ws.terraform_env(), check=False)
    for line in shown.stdout.rstrip().splitlines():
        echo(line)
    counts = planned.summary
    question = (f"{command} {ws.name} in AWS: {counts.get('add', 0)} to add, {counts.get('change', 0)} to change, "
                f"{counts.get('remove', 0)} to destroy. Go ahead?")
    if approval.auto:
        echo(f"  {command}: approved by --auto-approve")
    elif approval.confirm is not None and not approval.confirm(question):
        review.unlink(missing_ok=True)
        raise TowergenError(f"not {'applied' if command == 'apply' else 'destroyed'}: the answer was no; nothing was changed")
    try:
        return _terraform(tf, ws, command, echo, argv_for("apply", plan_file=review), review)
    finally:
        review.unlink(missing_ok=True)


def _terraform(tf: Terraform, ws: Workspace, command: str, echo: Echo, argv: list[str], plan_file: Path | None) -> Outcome:
    outcome = Outcome(command, 1, 0.0, environment=ws.name)
    progress = JsonProgress(echo, outcome)
    started = time.monotonic()
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
        plugin_mirror: str | Path | None = None, approval: Approval | None = None) -> Outcome:
    """``towergen plan|apply|destroy``: prepare, init, run; report through ``echo``."""
    if command not in COMMANDS:
        raise ValueError(command)
    target.check_command(command)
    approval = approval or Approval()
    tf = Terraform.discover(plugin_mirror)
    with target.workspace(subject) as ws:
        if needs_review(ws, command) and not approval.auto and approval.confirm is None:
            raise TowergenError(NO_APPROVAL)
        target.check_services(ws, command)
        with target.running(ws):
            echo(f"towergen {command}: {ws.name} on {target.describe(ws)}")
            terraform_init(tf, ws, echo)
            outcome = terraform_command(tf, ws, command, echo, approval=approval)
        if not target.keeps_state and command == "apply":
            echo("  (the embedded emulator and its state are gone: towergen smoke runs apply, checks and destroy in one go)")
    summarise(outcome, echo)
    return outcome
