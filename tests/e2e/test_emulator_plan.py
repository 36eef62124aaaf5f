"""Every example plans against the embedded moto server, through the generated override file."""

from __future__ import annotations

import re

import pytest

import towergen
from conftest import EXAMPLES, copy_tree, make_manual_prerequisites
from towergen.run.emulator import (
    OVERRIDE_FILE,
    MotoServer,
    override_hcl,
    write_override,
)

pytestmark = [pytest.mark.emulator, pytest.mark.terraform]


def test_override_file_is_escaped_hcl():
    text = override_hcl('http://127.0.0.1:1/"${x}')
    assert 'batch = "http://127.0.0.1:1/\\"$${x}"' in text
    assert re.search(r"s3_use_path_style +=  *true", text)


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


def test_every_example_plans(terraform, tmp_path, moto, rendered_examples, rendered_examples_aws):
    infra = copy_tree(rendered_examples_aws, tmp_path / "infra")  # platform.tf left out, as emulator runs do
    # Manual mode reads existing queues and an existing bucket: make them first.
    make_manual_prerequisites(moto.endpoint, towergen.load(next(p for p in EXAMPLES if p.stem == "manual")).env)
    names = sorted(towergen.load(p).env.name for p in EXAMPLES)  # not other tests' folders in the shared tree
    for name in names:
        root = infra / name
        write_override(root, moto.endpoint)
        terraform.run("init", "-no-color", cwd=root)
        result = terraform.run("plan", "-no-color", "-detailed-exitcode", "-out=plan.bin", cwd=root, ok_codes=(2,))
        assert "Plan:" in result.stdout and " to add" in result.stdout, name
        assert (root / OVERRIDE_FILE).exists()
    assert (infra / "spot-eu-west-1" / OVERRIDE_FILE).exists()
    assert not (rendered_examples / "spot-eu-west-1" / OVERRIDE_FILE).exists(), "the rendered tree is untouched"
