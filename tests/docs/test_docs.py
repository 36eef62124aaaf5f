"""The documentation a user has says what the code does."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from conftest import ROOT
from towergen.cli import app
from towergen.spec.reference import markdown, rows, splice

DOC = ROOT / "docs" / "environment-file.md"


def test_key_reference_is_current():
    text = DOC.read_text(encoding="utf-8")
    assert splice(text) == text, "docs/environment-file.md is stale: python tests/regenerate.py docs"


def test_key_reference_names_every_key_once():
    paths = [row[0] for row in rows()]
    assert len(paths) == len(set(paths))
    assert {"version", "name", "region", "work_dir", "compute.ebs_autoscale.max_size_gib", "storage.allowed_buckets[].access"} <= set(paths)


def test_schema_markdown_prints_the_reference():
    result = CliRunner().invoke(app, ["schema", "--markdown"])
    assert result.exit_code == 0
    assert result.stdout == markdown()


def test_readme_points_only_at_files_a_user_has():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "shared/" not in readme and "seed" not in readme.lower()
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme):
        assert (ROOT / target).exists(), f"README links to {target}, which is not in the repository"
