"""No provider warnings: `terraform validate` and `terraform plan` of every example (and of the
state bucket and the gitops bootstrap root, which towergen ships but never renders) print no
warning: no lifecycle rule without a filter (hashicorp/aws #41725), no deprecated argument.

Terraform and hashicorp/aws 5.100 run for real; the plans read the embedded moto server (plan
only, nothing is applied: about a minute in all), and show that every example plans there. Two
roots written to warn show that the check sees warnings when there are some. hashicorp/aws 6.x is not run here (not downloadable); what it
deprecates that towergen could meet is checked by tests/contracts (KNOWN_CHANGES).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

import towergen
from conftest import EXAMPLES, ROOT, copy_tree, make_manual_prerequisites
from towergen.run.emulator import OVERRIDE_FILE, MotoServer, write_override

pytestmark = pytest.mark.terraform

WARNING = re.compile(r"^\W*Warning: (.*)$", re.M)


def warnings(output: str) -> list[str]:
    return WARNING.findall(output)


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


def validate(terraform, root: Path) -> str:
    terraform.run("init", "-backend=false", "-input=false", "-no-color", cwd=root)
    result = terraform.run("validate", "-no-color", cwd=root)
    assert "Success! The configuration is valid." in result.stdout
    return result.stdout


def plan(terraform, root: Path, endpoint: str, *args: str, ok_codes=(0,)) -> str:
    write_override(root, endpoint)
    terraform.run("init", "-input=false", "-no-color", cwd=root)
    result = terraform.run("plan", "-input=false", "-no-color", *args, cwd=root, ok_codes=ok_codes)
    return result.stdout  # init's own notes (the plugin mirror's lock file) are not the provider's


def test_validate_prints_no_warning(terraform, rendered_examples_aws, tmp_path):
    """Every example in one root (one provider load), then the two roots towergen never renders.
    A platform.tf is left out (the seqera provider is not available here)."""
    rendered_examples = rendered_examples_aws
    batch = tmp_path / "all"
    batch.mkdir()
    roots = sorted(towergen.load(p).env.name for p in EXAMPLES)
    (batch / "main.tf").write_text("".join(
        f'module "{n.replace("-", "_")}" {{\n  source = "{os.path.relpath(rendered_examples / n, batch)}"\n}}\n\n' for n in roots
    ))
    output = validate(terraform, batch)
    assert warnings(output) == [], output
    for folder in (ROOT / "modules" / "state-bucket", ROOT / "examples" / "gitops" / "bootstrap"):
        copy = tmp_path / folder.name
        shutil.copytree(folder, copy)
        if folder.name == "bootstrap":  # its module source is relative to the repository
            text = (copy / "main.tf").read_text().replace("../../../modules/state-bucket", str(ROOT / "modules" / "state-bucket"))
            (copy / "main.tf").write_text(text)
        output = validate(terraform, copy)
        assert warnings(output) == [], f"{folder}:\n{output}"


def test_every_example_plans_on_the_emulator_without_a_warning(terraform, rendered_examples, rendered_examples_aws, tmp_path, moto):
    """Every example plans against the embedded moto server through the generated override file
    (exit code 2: resources to add), and the plan prints no warning."""
    infra = copy_tree(rendered_examples_aws, tmp_path / "infra")  # platform.tf left out, as emulator runs do
    # Manual mode reads existing queues and an existing bucket: make them first.
    make_manual_prerequisites(moto.endpoint, towergen.load(next(p for p in EXAMPLES if p.stem == "manual")).env)
    for name in sorted(towergen.load(p).env.name for p in EXAMPLES):  # not other tests' folders in the shared tree
        root = infra / name
        output = plan(terraform, root, moto.endpoint, "-detailed-exitcode", "-out=plan.bin", ok_codes=(2,))
        assert "Plan:" in output and " to add" in output, f"{name}:\n{output[-3000:]}"
        assert warnings(output) == [], f"{name}:\n{output}"
        assert (root / OVERRIDE_FILE).exists()
    assert not (rendered_examples / "spot-eu-west-1" / OVERRIDE_FILE).exists(), "the rendered tree is untouched"


def test_plan_of_the_state_bucket_and_bootstrap_prints_no_warning(terraform, tmp_path, moto):
    """The state bucket's lifecycle rule applies to the whole bucket (`filter {}`), the form #41725
    is about; with the DynamoDB lock table and a KMS key too."""
    root = tmp_path / "state"
    root.mkdir()
    (root / "main.tf").write_text(f'''
module "state" {{
  source            = "{ROOT / "modules" / "state-bucket"}"
  bucket_name       = "towergen-warnings-state"
  create_lock_table = true
  kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
}}

provider "aws" {{
  region = "eu-west-1"
}}
''')
    output = plan(terraform, root, moto.endpoint)
    assert "Plan:" in output and warnings(output) == [], output

    bootstrap = tmp_path / "bootstrap"
    shutil.copytree(ROOT / "examples" / "gitops" / "bootstrap", bootstrap)
    text = (bootstrap / "main.tf").read_text().replace("../../../modules/state-bucket", str(ROOT / "modules" / "state-bucket"))
    (bootstrap / "main.tf").write_text(text)
    output = plan(terraform, bootstrap, moto.endpoint, "-var=account_id=123456789012", "-var=state_bucket=towergen-warnings-bootstrap",
                  "-var=github_repository=acme/batch-environments", '-var=deploy_role_arns=["arn:aws:iam::111111111111:role/towergen-deploy"]')
    assert "Plan:" in output and warnings(output) == [], output


def test_the_check_sees_warnings(terraform, tmp_path, moto):
    """Control: a lifecycle rule without a filter and a deprecated argument do warn, and the
    check above would have caught them."""
    root = tmp_path / "warns"
    root.mkdir()
    (root / "main.tf").write_text('''
provider "aws" {
  region = "eu-west-1"
}

resource "aws_s3_bucket" "b" {
  bucket = "towergen-warnings-control"
  acl    = "private"
}

resource "aws_s3_bucket_lifecycle_configuration" "b" {
  bucket = aws_s3_bucket.b.id

  rule {
    id     = "everything"
    status = "Enabled"

    expiration {
      days = 1
    }
  }
}
''')
    found = warnings(plan(terraform, root, moto.endpoint))
    assert any("deprecated" in w.lower() for w in found), found
    assert any("Invalid Attribute Combination" in w for w in found), found
