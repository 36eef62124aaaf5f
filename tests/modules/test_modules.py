"""The Terraform modules are plain, typed and documented: usable without towergen."""

from __future__ import annotations

import re

import hcl2
import pytest

from conftest import ROOT
from towergen.renderer.escape import hcl_unquote

MODULE_FILES = {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"}
# The modules environments call, and the standalone ones (modules/state-bucket) held to the same standard.
ALL_MODULES = sorted(p.name for p in (ROOT / "modules").iterdir() if p.is_dir())


def _unquote(value: str) -> str:
    return hcl_unquote(value) if value.startswith('"') else value


@pytest.mark.parametrize("module", ALL_MODULES)
def test_module_is_complete_and_documented(module):
    folder = ROOT / "modules" / module
    assert {p.name for p in folder.iterdir()} >= MODULE_FILES
    readme = (folder / "README.md").read_text(encoding="utf-8")
    variables = hcl2.loads((folder / "variables.tf").read_text(encoding="utf-8")).get("variable", [])
    outputs = hcl2.loads((folder / "outputs.tf").read_text(encoding="utf-8")).get("output", [])
    for block in variables:
        ((name, body),) = ((_unquote(k), v) for k, v in block.items())
        assert body.get("description") and body.get("type"), f"{module}: variable {name} needs a type and a description"
        description = _unquote(body["description"])
        row = re.search(rf"^\| `?{re.escape(name)}`? \|(.*)$", readme, re.M)
        assert row, f"{module}/README.md has no Inputs row for {name}"
        assert description in row.group(1).replace("\\|", "|"), f"{module}/README.md: {name}'s description differs from variables.tf"
    for block in outputs:
        ((name, body),) = ((_unquote(k), v) for k, v in block.items())
        assert body.get("description"), f"{module}: output {name} needs a description"
        assert re.search(rf"^\| `?{re.escape(name)}`? \|", readme, re.M), f"{module}/README.md has no Outputs row for {name}"
    # the same hashicorp/aws constraint as the rendered roots (tests/contracts checks it admits 5.100 and 6.x)
    constraint = re.search(r'version = ("[^"]+")', (ROOT / "templates" / "root" / "versions.tf.j2").read_text()).group(1)
    assert re.search(rf"version += {re.escape(constraint)}", (folder / "versions.tf").read_text())


@pytest.mark.parametrize("module", ALL_MODULES)
def test_readme_tables_are_current(module):
    from regenerate import module_readme

    folder = ROOT / "modules" / module
    assert (folder / "README.md").read_text(encoding="utf-8") == module_readme(folder), (
        "python tests/regenerate.py module-docs"
    )
