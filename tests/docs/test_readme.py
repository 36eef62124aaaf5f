"""The README's two commands are the ones CI runs."""

from __future__ import annotations

import re

from conftest import ROOT


def test_readme_opens_with_the_two_commands_ci_runs():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    setup, tests = blocks[0], blocks[1]
    assert readme.index(setup) < 600, "the two commands open the README"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -e '.[test]'" in setup and "pip install --quiet -e '.[test]'" in ci
    assert "towergen render examples/" in setup
    assert tests.strip() in ci.splitlines(), ".ci/run runs the README's test command as it is"


def _block_after(text: str, marker: str) -> str:
    """The first fenced block after ``marker``."""
    return re.search(r"```[^\n]*\n(.*?)```", text[text.index(marker):], re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_error_example_is_what_towergen_prints(monkeypatch):
    """The README's "file with mistakes" output is towergen's, not a hand-written imitation."""
    from typer.testing import CliRunner

    from towergen.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = _block_after(readme, "A file with mistakes is refused")
    monkeypatch.chdir(ROOT / "tests" / "docs")
    result = CliRunner().invoke(app, ["validate", "readme-mistakes.yaml"], prog_name="towergen")
    assert result.exit_code == 1
    assert result.stderr.replace("readme-mistakes.yaml", "env.yaml") == shown


def test_the_readme_command_table_is_the_cli():
    """Each row of the README's command table parses as the CLI parses it, and every command
    the CLI offers has a row."""
    from typer.main import get_command

    from towergen.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## The command line"):readme.index("`FILE` is an environment file")]
    group = get_command(app)
    listed = set()
    for cell in re.findall(r"^\| `towergen ([^`]+)` \|", table, re.M):
        words = cell.replace("FILE...", "a.yaml").replace("FILE", "a.yaml").split()
        words = [w.replace("DIR", "out").replace("REV", "HEAD").replace("PATH", "r.json") for w in words]
        words = ["aws" if w == "T" else w for w in words]
        command = group.commands[words[0]]  # type: ignore[attr-defined]
        command.make_context(f"towergen {words[0]}", words[1:], resilient_parsing=False)
        listed.add(words[0])
    offered = {name for name, command in group.commands.items() if not command.hidden}  # type: ignore[attr-defined]
    assert listed == offered
