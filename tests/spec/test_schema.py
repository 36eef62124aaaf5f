"""`towergen schema` as editors and CI use it: a JSON Schema (2020-12) that accepts every shipped
environment file, and a base-file schema for the files others extend (check-jsonschema, a tool
towergen did not write, does the validating)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ROOT
from towergen.cli import app
from towergen.spec.reader import parse

runner = CliRunner()


def shipped() -> tuple[list[Path], list[Path]]:
    """(environment files, base files) shipped in examples/: a base is a file another extends."""
    files = sorted(p for p in (ROOT / "examples").rglob("*.yaml") if ".github" not in p.parts and "pre-commit" not in p.name)
    bases = set()
    for path in files:
        data = parse(path.read_text(encoding="utf-8"), path.name).data
        if isinstance(data, dict) and isinstance(data.get("extends"), str):
            bases.add((path.parent / data["extends"]).resolve())
    return [p for p in files if p.resolve() not in bases], [p for p in files if p.resolve() in bases]


def test_the_schemas_name_their_dialect_and_say_what_they_are():
    for args in ([], ["--base"]):
        schema = json.loads(runner.invoke(app, ["schema", *args]).stdout)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["title"] and schema["description"]
    envs, bases = shipped()
    assert envs and bases, "the gitops example ships a base file"


@pytest.mark.scanners
def test_check_jsonschema_accepts_every_shipped_file(tmp_path):
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    assert tool, "check-jsonschema is not installed (.ci/run installs it)"
    envs, bases = shipped()
    for args, files, name in (([], envs, "env.json"), (["--base"], bases, "base.json")):
        schema = tmp_path / name
        schema.write_text(runner.invoke(app, ["schema", *args]).stdout)
        subprocess.run([tool, "--check-metaschema", str(schema)], check=True, capture_output=True)
        done = subprocess.run([tool, "--schemafile", str(schema), *map(str, files)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    # a base file is partial: the environment schema rightly refuses it, the base schema accepts it
    env_schema = str(tmp_path / "env.json")
    done = subprocess.run([tool, "--schemafile", env_schema, str(bases[0])], capture_output=True, text=True)
    assert done.returncode != 0 and "required property" in done.stdout
