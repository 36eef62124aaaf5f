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
