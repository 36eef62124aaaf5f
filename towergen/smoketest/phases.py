"""``towergen smoke``: the check a pull request runs.

Against the embedded emulator (or LocalStack), in one go: apply the environment, check the AWS
objects it made through the AWS API (queues, compute environments, bucket and lifecycle rule,
user and policies, roles, launch template user-data, file system), plan again and fail on any
drift, destroy, and check that nothing is left. Each phase is timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..errors import TowergenError
from ..run.progress import Echo
from ..run.runner import terraform_command, terraform_init
from ..run.targets import Target
from ..run.terraform import Terraform
from ..run.workspace import Subject, Workspace
from .aws import Client, check_created, check_gone, clients
from .report import Phase, SmokeReport, print_report

PhaseFn = Callable[[str, float, bool, str], bool]


def smoke(subject: Subject, target: Target, echo: Echo, *, plugin_mirror: str | Path | None = None,
          started: float | None = None) -> SmokeReport:
    """Apply, check, re-plan, destroy and verify ``subject`` on an emulator ``target``.
    ``started``: when the run began (``time.monotonic()``), for the render phase's time."""
    target.check_command("smoke")
    if subject.loaded is None:
        raise TowergenError(
            "smoke needs the environment file (it checks the AWS objects against it): give the file, or "
            "a folder whose output tree's manifest (towergen-manifest.json) records a file that exists"
        )
    tf = Terraform.discover(plugin_mirror)
    started = time.monotonic() if started is None else started
    loaded = subject.loaded
    with target.workspace(subject) as ws:
        report = SmokeReport(ws.name, target.name)
        report.phases.append(Phase("render", time.monotonic() - started, True, ""))
        target.check_services(ws, "apply")
        with target.running(ws):
            assert ws.endpoint is not None
            echo(f"towergen smoke: {ws.name} on {target.describe(ws)}")
            _phases(tf, ws, clients(ws.endpoint, loaded.env.region), report, echo)
    print_report(report, echo)
    return report


# What each phase does, announced as it starts (the long ones wait on the provider's own waiters).
BANNERS = {
    "init": "terraform init",
    "apply": "apply (a job queue takes ~30 s, a lifecycle rule ~55 s: the provider waits on them)",
    "check": "check the AWS objects and identities through the AWS API",
    "re-plan": "plan again: what was just applied must plan no change",
    "destroy": "destroy (a job queue takes ~60 s to go)",
    "verify": "verify that nothing is left",
}


def banner(echo: Echo, name: str) -> None:
    echo(f"== {name}: {BANNERS[name]}")


def _phases(tf: Terraform, ws: Workspace, client: Client, report: SmokeReport, echo: Echo) -> None:
    assert ws.loaded is not None

    def phase(name: str, seconds: float, ok: bool, detail: str) -> bool:
        report.phases.append(Phase(name, seconds, ok, detail))
        return ok

    banner(echo, "init")
    phase("init", terraform_init(tf, ws, echo), True, "")
    banner(echo, "apply")
    applied = terraform_command(tf, ws, "apply", echo)
    if not phase("apply", applied.seconds, applied.exit_code == 0, f"{applied.summary.get('add', 0)} added"):
        report.failures += applied.diagnostics
        _destroy(tf, ws, report, echo, phase, after_failure=True)
        return

    banner(echo, "check")
    t = time.monotonic()
    checks = check_created(ws.loaded.resolved, ws, applied.outputs, client)
    report.failures += [f"check failed: {f}" for f in checks.failed]
    phase("check", time.monotonic() - t, not checks.failed, f"{len(checks.passed)} of {len(checks.passed) + len(checks.failed)} checks passed")

    banner(echo, "re-plan")
    replan = terraform_command(tf, ws, "plan", echo)
    drift = replan.exit_code == 2
    if replan.exit_code == 1:
        report.failures += replan.diagnostics
    elif drift:
        report.failures.append("the plan after apply is not empty: Terraform would change what it just made (drift)")
    no_drift = f"no drift ({replan.refreshed} objects refreshed)" if replan.refreshed else "no drift"
    phase("re-plan", replan.seconds, replan.exit_code == 0, no_drift if replan.exit_code == 0 else "DRIFT" if drift else "failed")

    if not _destroy(tf, ws, report, echo, phase):
        return
    banner(echo, "verify")
    t = time.monotonic()
    gone = check_gone(ws.loaded.resolved, client)
    report.failures += [f"left behind: {f}" for f in gone.failed]
    phase("verify", time.monotonic() - t, not gone.failed, "nothing left" if not gone.failed else f"{len(gone.failed)} kinds of object left")


def _destroy(tf: Terraform, ws: Workspace, report: SmokeReport, echo: Echo, phase: PhaseFn,
             after_failure: bool = False) -> bool:
    assert ws.loaded is not None
    protected = bool(ws.loaded.resolved.guarded)  # dispose: false, and something to protect
    banner(echo, "destroy")
    destroyed = terraform_command(tf, ws, "destroy", echo)
    if protected and not after_failure:
        refused = destroyed.exit_code != 0 and any("prevent_destroy" in d or "cannot be destroyed" in d for d in destroyed.diagnostics)
        guarded = " and ".join(ws.loaded.resolved.guarded)
        phase("protect", destroyed.seconds, refused, f"destroy refused (dispose: false guards the {guarded})" if refused else "destroy NOT refused")
        if not refused:
            report.failures.append("dispose: false, but destroy was not refused")
            return False
        # Lift the guard in the throw-away state only, then tear the rest down.
        tf.run("state", "rm", "terraform_data.protect", cwd=ws.root, extra_env=ws.terraform_env())
        destroyed = terraform_command(tf, ws, "destroy", echo)
    ok = destroyed.exit_code == 0
    if not ok:
        report.failures += destroyed.diagnostics
    phase("destroy", destroyed.seconds, ok, f"{destroyed.summary.get('remove', 0)} destroyed" if ok else "failed")
    return ok
