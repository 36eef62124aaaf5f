"""Regenerate the expected outputs the tests compare against.

    python tests/regenerate.py            # both
    python tests/regenerate.py golden     # tests/golden/: every example rendered together
    python tests/regenerate.py bad        # tests/bad/*.txt: the messages for each bad file

Review the diff before committing it: a changed golden file is a changed product.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import towergen  # noqa: E402
from towergen.cli import app  # noqa: E402

EXAMPLES = sorted((HERE.parent / "examples").glob("*.yaml"))
GOLDEN = HERE / "golden"
BAD = HERE / "bad"


def bad_messages(path: Path) -> str:
    """What `towergen validate <name>.yaml` prints on stderr, run from tests/bad/."""
    import os

    from typer.testing import CliRunner

    cwd = os.getcwd()
    os.chdir(BAD)
    try:
        result = CliRunner().invoke(app, ["validate", path.name])
    finally:
        os.chdir(cwd)
    return f"exit {result.exit_code}\n{result.stderr}"


def golden() -> None:
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    towergen.render(EXAMPLES, GOLDEN)
    print(f"wrote {GOLDEN}")


def bad() -> None:
    for path in sorted(BAD.glob("*.yaml")):
        path.with_suffix(".txt").write_text(bad_messages(path), encoding="utf-8")
    print(f"wrote {len(list(BAD.glob('*.txt')))} files in {BAD}")


if __name__ == "__main__":
    which = sys.argv[1:] or ["golden", "bad"]
    for name in which:
        {"golden": golden, "bad": bad}[name]()
