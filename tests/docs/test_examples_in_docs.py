"""Every example a user would copy out of the documentation works as the reader sees it
(issue 17): the fenced blocks of README.md, DEVELOPERS.md, docs/*.md, modules/*/README.md and
examples/gitops/README.md.

- ``yaml``: an environment file (``version:``) is validated whole by ``towergen validate``; a
  snippet is pasted into a minimal file and validated, without a warning either way; a
  pre-commit configuration names hooks towergen ships.
- ``sh``: every ``towergen`` command line is parsed by the CLI itself (a dry run: nothing runs);
  every option it names exists for that command.
- ``hcl``: the module usage examples are pasted into one root, with the module sources as a user
  writes them, and ``terraform validate`` reads them (terraform tier).
- ``json``: parses.

A block the reader should not copy says so in its info string: ```text, or ```yaml output.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from conftest import ROOT
from towergen.cli import app

DOCS = sorted([ROOT / "README.md", ROOT / "DEVELOPERS.md", ROOT / "examples" / "gitops" / "README.md",
               *(ROOT / "docs").glob("*.md"), *(ROOT / "modules").glob("*/README.md")])
BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)
MINIMAL = "version: 1\nname: snippet\nregion: eu-west-1\naccount_id: '123456789012'\nwork_dir: s3://snippet-work/work\n"


def blocks(language: str) -> list[tuple[str, str]]:
    """(where, text) of every fenced block whose info string is exactly ``language``."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            if match.group(1).strip() == language:
                line = text.count("\n", 0, match.start()) + 1
                found.append((f"{doc.relative_to(ROOT)}:{line}", match.group(2)))
    return found


def _ids(items: list[tuple[str, str]]) -> list[str]:
    return [where for where, _ in items]


YAML = blocks("yaml")
SH = blocks("sh")
HCL = blocks("hcl")


def _is_environment(data: object) -> bool:
    from towergen.spec.model import EXTENDS, Environment

    return isinstance(data, dict) and bool(data) and set(data) <= set(Environment.model_fields) | {EXTENDS}


@pytest.mark.parametrize("where, text", YAML, ids=_ids(YAML))
def test_yaml_examples_are_valid(where, text, tmp_path, monkeypatch):
    data = yaml.safe_load(text)
    if isinstance(data, dict) and "repos" in data:  # a pre-commit configuration
        shipped = {hook["id"] for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
        named = {hook["id"] for repo in data["repos"] for hook in repo["hooks"]}
        assert named <= shipped, f"{where}: hooks towergen does not ship: {named - shipped}"
        return
    assert _is_environment(data), f"{where}: neither an environment file nor a snippet of one: {text[:80]!r}"
    whole = "version" in data
    path = tmp_path / "env.yaml"
    if whole:
        path.write_text(text, encoding="utf-8")
    else:  # the snippet's keys over a minimal file's, as a reader pastes them in
        path.write_text(yaml.safe_dump({**yaml.safe_load(MINIMAL), **data}, sort_keys=False), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "env.yaml"], prog_name="towergen")
    assert result.exit_code == 0, f"{where}:\n{result.output}"
    assert result.stderr == "", f"{where} warns:\n{result.stderr}"


def _towergen_lines(text: str) -> list[list[str]]:
    """The towergen command lines of a shell block, as argument lists (comments dropped, lines
    joined at backslashes, only what follows the program name)."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|;|\|", line.split(" #", 1)[0]):
            words = shlex.split(part, comments=True)
            if words and Path(words[0]).name == "towergen":
                commands.append(words[1:])
    return commands


@pytest.mark.parametrize("where, text", SH, ids=_ids(SH))
def test_towergen_command_lines_in_shell_examples_parse(where, text):
    group = get_command(app)
    for args in _towergen_lines(text):
        if not args or args[0].startswith("-"):
            continue
        command = group.commands.get(args[0])  # type: ignore[attr-defined]
        assert command is not None, f"{where}: towergen has no command {args[0]!r}"
        ctx = command.make_context(f"towergen {args[0]}", list(args[1:]), resilient_parsing=False)
        assert ctx.params is not None, where


def test_the_documentation_has_examples_of_each_kind():
    assert len(YAML) >= 5 and len(SH) >= 8 and len(HCL) >= 5


@pytest.mark.parametrize("where, text", blocks("json"), ids=_ids(blocks("json")))
def test_json_examples_parse(where, text):
    json.loads(text)


@pytest.mark.terraform
def test_module_usage_examples_validate_together(terraform, tmp_path):
    """The usage example of every module README, pasted into one root as a user would
    (``source = "../modules/NAME"`` beside a copy of towergen's modules), validates."""
    modules = tmp_path / "modules"
    shutil.copytree(ROOT / "modules", modules)
    root = tmp_path / "root"
    root.mkdir()
    pasted, seen = [], set()
    for where, text in HCL:
        if not where.startswith("modules/"):
            continue
        # a README's second example of one module (another way to call it) gets a label of its
        # own in the shared root; references still lead to the first
        for label in re.findall(r'^module "([a-z_-]+)"', text, re.M):
            if label in seen:
                text = text.replace(f'module "{label}"', f'module "{label}_{len(seen)}"', 1)
            seen.add(label)
        pasted.append(f"# {where}\n{text}")
    (root / "main.tf").write_text("\n".join(pasted), encoding="utf-8")
    (root / "user-data.txt").write_text("#!/bin/sh\n")
    terraform.run("init", "-backend=false", "-input=false", "-no-color", cwd=root)
    result = terraform.run("validate", "-no-color", cwd=root)
    assert "Success! The configuration is valid." in result.stdout
