"""Several environments at once: ``towergen plan`` or ``smoke`` over many files, run side by side.

Each environment runs in a child process of its own (``python -m towergen fleet-child``): the
embedded emulator keeps its AWS objects per process, so two environments in one process would
see, and reset, each other's. A child receives its options as a typed ``Request`` (JSON on its
standard input) and answers with its report (JSON in a file). At most ``jobs`` children run at
once; they share one Terraform provider cache (``TF_PLUGIN_CACHE_DIR``, unless the user set
one), so the provider is unpacked once. Each environment is announced when it starts and its
output printed as a block when it ends, then one summary table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..run.progress import Echo
from ..run.targets import cache_dir

FLEET_COMMANDS = ("plan", "smoke")
# The hidden command of the CLI that runs one request in a child process.
CHILD_COMMAND = "fleet-child"


@dataclass(frozen=True)
class Request:
    """What one child runs: the options of ``towergen plan`` or ``smoke`` for one source."""

    command: str
    source: str
    target: str = "local"
    endpoint: str | None = None
    plugin_mirror: str | None = None
    out: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Request:
        data = json.loads(text)
        if not isinstance(data, dict) or set(data) - set(cls.__dataclass_fields__):
            raise ValueError(f"not a towergen fleet request: {text[:200]!r}")
        return cls(**data)


@dataclass
class FleetResult:
    source: str
    exit_code: int
    seconds: float
    report: dict[str, Any] = field(default_factory=dict)  # what the child reported
    output: str = ""

    @property
    def name(self) -> str:
        return str(self.report.get("environment") or Path(self.source).stem)


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    if not env.get("TF_PLUGIN_CACHE_DIR"):
        shared = cache_dir() / "plugin-cache"
        shared.mkdir(parents=True, exist_ok=True)
        env["TF_PLUGIN_CACHE_DIR"] = str(shared)
    return env


def _run_one(request: Request, env: dict[str, str], echo: Echo) -> FleetResult:
    echo(f"--> {request.source}: {request.command} started")
    with tempfile.TemporaryDirectory(prefix="towergen-fleet-") as tmp:
        report_path = Path(tmp) / "report.json"
        argv = [sys.executable, "-m", "towergen", CHILD_COMMAND, str(report_path)]
        started = time.monotonic()
        proc = subprocess.run(argv, input=request.to_json(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace", env=env)
        seconds = time.monotonic() - started
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {}
        return FleetResult(request.source, proc.returncode, seconds, report if isinstance(report, dict) else {}, proc.stdout)


def run_fleet(requests: list[Request], echo: Echo, *, jobs: int | None = None) -> list[FleetResult]:
    """Run every request, ``jobs`` at a time; echo each child's output as it ends, then the
    summary table. Results come back in the requests' order."""
    commands = {r.command for r in requests}
    if len(commands) != 1 or not commands <= set(FLEET_COMMANDS):
        raise ValueError(commands)
    (command,) = commands
    jobs = jobs or default_jobs()
    env = _child_env()
    echo(f"towergen {command}: {len(requests)} environments, {min(jobs, len(requests))} at a time")
    results: dict[int, FleetResult] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_run_one, r, env, echo): i for i, r in enumerate(requests)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            echo(f"<-- {result.source}: {command} ended (exit {result.exit_code}, {result.seconds:.0f} s); its output:")
            for line in result.output.rstrip().splitlines():
                echo(f"  {line}")
    ordered = [results[i] for i in range(len(requests))]
    echo("")
    for line in summary_table(command, ordered):
        echo(line)
    return ordered


def _describe(command: str, result: FleetResult) -> str:
    summary = result.report.get("summary") or {}
    if command == "plan":
        if result.exit_code == 0:
            return "no changes"
        if result.exit_code == 2:
            return f"{summary.get('add', 0)} to add, {summary.get('change', 0)} to change, {summary.get('remove', 0)} to destroy"
        return "FAILED"
    return "passed" if result.exit_code == 0 else "FAILED"


def summary_table(command: str, results: list[FleetResult]) -> list[str]:
    rows = [(r.name, _describe(command, r), f"{r.seconds:.0f} s") for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(("environment", "result", "time"))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(("environment", "result", "time"), widths, strict=False)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows]
    return lines


def fleet_exit_code(command: str, results: list[FleetResult]) -> int:
    """As for one environment: 1 when any failed; for plan 2 when any has changes; else 0."""
    codes = [r.exit_code for r in results]
    ok = (0, 2) if command == "plan" else (0,)
    if any(c not in ok for c in codes):
        return 1
    return 2 if command == "plan" and 2 in codes else 0
