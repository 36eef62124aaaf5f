"""Terraform's ``-json`` event stream, turned into one line per resource event and an outcome.

The stream is checked, not trusted: a line that is not a JSON object is shown as text, and a run
that ends without Terraform's own summary is not reported as a result (see ``Outcome.complete``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

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
    environment: str = ""
    summarised: bool = False  # Terraform's change_summary event arrived
    foreign_lines: int = 0  # lines that were not Terraform's JSON events

    @property
    def ok(self) -> bool:
        """Success: plan exits 0 (no changes) or 2 (changes); apply and destroy exit 0."""
        return self.exit_code in ((0, 2) if self.command == "plan" else (0,))

    def as_report(self) -> dict[str, Any]:
        """The outcome as data (``--json-report``); outputs are left out: they may be secret."""
        return {
            "environment": self.environment, "command": self.command, "exit_code": self.exit_code,
            "ok": self.ok, "summary": self.summary, "seconds": round(self.seconds, 1),
            "refreshed": self.refreshed, "diagnostics": self.diagnostics,
        }

    def require_summary(self) -> None:
        """A run that ends well without Terraform's summary is not a result: whatever ran was not
        Terraform speaking its -json stream (a wrapper, a stub, a crash that exited 0)."""
        if self.ok and not self.summarised:
            self.exit_code = 1
            self.diagnostics.append(
                f"Error: terraform {self.command} ended without its change summary "
                f"({self.foreign_lines} lines that were not Terraform's JSON events); "
                "towergen reports no result it did not see Terraform state"
            )


class JsonProgress:
    """Turns Terraform's ``-json`` event stream into one line per resource event."""

    def __init__(self, echo: Echo, outcome: Outcome):
        self.echo = echo
        self.outcome = outcome
        self.started = time.monotonic()
        self.last_progress: dict[str, float] = {}

    # The payload each event type carries; an event without it is not one Terraform sends.
    PAYLOAD: ClassVar[dict[str, str]] = {
        "apply_start": "hook", "apply_progress": "hook", "apply_complete": "hook", "apply_errored": "hook",
        "planned_change": "change", "change_summary": "changes", "outputs": "outputs", "diagnostic": "diagnostic",
    }

    def __call__(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        kind = event.get("type") if isinstance(event, dict) else None
        found = event.get(self.PAYLOAD[kind]) if kind in self.PAYLOAD else None
        if not isinstance(event, dict) or (kind in self.PAYLOAD and not isinstance(found, dict)):
            if line.strip():
                self.outcome.foreign_lines += 1
                self.echo(f"  {line}")
            return
        payload: dict[str, Any] = found if isinstance(found, dict) else {}
        if kind in ("apply_start", "apply_progress", "apply_complete", "apply_errored"):
            self._hook(kind, payload)
        elif kind == "planned_change" and self.outcome.command == "plan":
            res = _mapping(payload.get("resource")).get("addr", "")
            self.echo(f"  {payload.get('action', '')!s:<10} {res}")
        elif kind == "resource_drift":
            # "changed outside of Terraform": attributes read back after apply (attachments made
            # by other resources, empty tags as {}); a real difference shows as a planned change
            self.outcome.refreshed += 1
        elif kind == "change_summary":
            self.outcome.summary = {k: v for k, v in payload.items() if isinstance(v, int)}
            self.outcome.summarised = True
        elif kind == "outputs":
            self.outcome.outputs = {k: v.get("value") for k, v in payload.items() if isinstance(v, dict)}
        elif kind == "diagnostic":
            text = f"{str(payload.get('severity', 'error')).capitalize()}: {payload.get('summary', '')}"
            if payload.get("address"):
                text += f"\n  with {payload['address']}"
            if payload.get("detail"):
                text += "\n" + "\n".join(f"  {d}" for d in str(payload["detail"]).splitlines())
            if payload.get("severity") == "error":
                self.outcome.diagnostics.append(text)
            self.echo(text)

    def _hook(self, kind: str, hook: dict[str, Any]) -> None:
        addr = _mapping(hook.get("resource")).get("addr", "")
        action = hook.get("action", "")
        doing, done = _VERBS.get(action, (action, action))
        if action == "read":
            return  # data sources: quick, and not what a reader is waiting for
        elapsed = hook.get("elapsed_seconds", 0)
        elapsed = elapsed if isinstance(elapsed, (int, float)) else 0
        if kind == "apply_start":
            self.echo(f"  {doing:<10} {addr}")
        elif kind == "apply_progress":
            if elapsed - self.last_progress.get(addr, 0) >= 30:
                self.last_progress[addr] = elapsed
                self.echo(f"  {'...':<10} {addr}: still {doing} ({elapsed} s)")
        elif kind == "apply_complete":
            self.echo(f"  {done:<10} {addr} ({elapsed} s)")
        else:
            self.echo(f"  {'FAILED':<10} {addr} ({elapsed} s)")


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def summarise(outcome: Outcome, echo: Echo) -> None:
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
