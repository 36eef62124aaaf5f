"""The corpus of bad environment files: each gives exactly the messages in its .txt file
(regenerate with `python tests/regenerate.py bad`, then review the diff)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from regenerate import BAD, bad_messages
from towergen.errors import SpecError
from towergen.loader import advice, rules
from towergen.loader.source import Source
from towergen.loader.validate import load_file

CASES = sorted(BAD.glob("*.yaml"))


RULE_FILES = (rules.__file__, advice.__file__)  # the cross-key errors, the warnings


def _rule_calls() -> dict[tuple[str, int, int], str]:
    """Every call in the rules that reports an error or a warning: its file and lines, its
    message's start."""
    calls = {}
    for file in RULE_FILES:
        tree = ast.parse(Path(file).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("error", "warn"):
                calls[(file, node.lineno, node.end_lineno)] = ast.unparse(node.args[-1])[:70]
    return calls


def test_every_rule_has_a_bad_file(monkeypatch):
    """Each error and warning the rules can report is reported by at least one file of the
    corpus (a rule nobody feeds is a rule nobody checks)."""
    calls = _rule_calls()
    hit: set[tuple[str, int]] = set()
    original = Source.problem

    def problem(self, *args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename in RULE_FILES and frame.f_code.co_name not in ("error", "warn"):
                hit.add((frame.f_code.co_filename, frame.f_lineno))
                break
            frame = frame.f_back
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Source, "problem", problem)
    for path in CASES:
        try:
            load_file(path)
        except SpecError:
            pass
    missing = {where: text for where, text in calls.items() if not any(f == where[0] and where[1] <= h <= where[2] for f, h in hit)}
    assert len(calls) > 40
    assert not missing, "rules without a bad file in tests/bad/: " + "; ".join(
        f"{Path(k[0]).name}:{k[1]} {v}" for k, v in sorted(missing.items())
    )


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_file_message(path):
    """A file refused with its errors (exit 1), or, for a "-warning-" file, a valid file whose
    every warning is printed (exit 0)."""
    expected = path.with_suffix(".txt").read_text(encoding="utf-8")
    actual = bad_messages(path)
    assert actual == expected
    assert "Traceback" not in actual
    if "-warning-" in path.name:
        assert actual.startswith("exit 0\n")
        lines, kind = actual.splitlines()[1:], "warning"
        assert lines, "a warning file must warn"
    else:
        assert actual.startswith("exit 1\n")
        lines, kind = actual.splitlines()[1:-1], "error"
    # every problem line is located: file:line:col, in the file or in a base file it extends
    for line in lines:
        assert line.startswith((f"{kind}: {path.name}:", f"{kind}: bases/")), line
