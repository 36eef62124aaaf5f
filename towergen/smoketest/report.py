"""What a smoke run found: its timed phases, the checks that passed and failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..run.progress import Echo


@dataclass
class Phase:
    name: str
    seconds: float
    ok: bool
    detail: str


@dataclass
class SmokeReport:
    environment: str
    target: str
    phases: list[Phase] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and all(p.ok for p in self.phases)

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    def as_report(self) -> dict[str, Any]:
        """The report as data (``--json-report``)."""
        return {
            "environment": self.environment, "command": "smoke", "target": self.target, "ok": self.ok,
            "seconds": round(self.seconds, 1), "failures": self.failures,
            "phases": [{"name": p.name, "seconds": round(p.seconds, 1), "ok": p.ok, "detail": p.detail} for p in self.phases],
        }


class Checks:
    """A list of named expectations about the AWS objects, run against the emulator's API."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def expect(self, what: str, condition: bool, found: Any = None) -> bool:
        if condition:
            self.passed.append(what)
        else:
            self.failed.append(f"{what}: found {found!r}" if found is not None else what)
        return condition


def print_report(report: SmokeReport, echo: Echo) -> None:
    echo("")
    echo(f"smoke report for {report.environment} ({report.target}):")
    for p in report.phases:
        echo(f"  {p.name:<9} {p.seconds:7.1f} s  {'ok  ' if p.ok else 'FAIL'}  {p.detail}".rstrip())
    for failure in report.failures:
        echo(f"  - {failure}")
    echo(f"smoke {'passed' if report.ok else 'FAILED'} in {report.seconds:.0f} s")
