"""The code's own gates, in the default tier: ruff, mypy (strict, with pydantic's plugin) and the
import-linter contracts that keep the stages' imports pointing one way (pyproject.toml), and
the mutation run's mutants still applying."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

BIN = Path(sys.executable).parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = BIN / tool
    assert path.exists(), f"{tool} is part of the test extras: pip install -e '.[test]'"
    return subprocess.run([str(path), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff():
    done = _run("ruff", "check", "--no-cache", "towergen", "tests", "bench", "tools")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict():
    done = _run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_import_layers():
    done = _run("lint-imports")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_every_mutant_of_the_mutation_run_still_applies():
    """tools/mutation.py plants each mutant by replacing a text that must occur exactly once: a
    change to the code it mutates must update the mutant, or the next mutation run measures less."""
    done = subprocess.run([sys.executable, "tools/mutation.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
