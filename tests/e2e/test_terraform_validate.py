"""The real Terraform agrees: every example's output is fmt-clean and valid."""

from __future__ import annotations

import pytest

from conftest import ROOT

pytestmark = pytest.mark.terraform


def test_output_and_modules_are_fmt_clean(terraform, rendered_examples):
    for folder in (rendered_examples, ROOT / "modules"):
        result = terraform.run("fmt", "-check", "-recursive", "-list=true", "-no-color", str(folder), cwd=folder, check=False)
        assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}"


def test_every_example_validates(terraform, rendered_examples_aws):
    """One root calls every rendered environment as a module, so that one `terraform validate`
    (one ~8 s load of the AWS provider) checks them all. A platform.tf is left out, as emulator
    runs leave it out (the seqera provider is not available here): the AWS part must be valid
    alone; the platform file is checked against the provider's contract."""
    batch = rendered_examples_aws / "_validate_all"
    batch.mkdir()
    roots = sorted(p.name for p in rendered_examples_aws.iterdir() if (p / "main.tf").exists())
    assert len(roots) >= 5
    (batch / "main.tf").write_text(
        "".join(f'module "{name.replace("-", "_")}" {{\n  source = "../{name}"\n}}\n\n' for name in roots)
    )
    terraform.run("init", "-backend=false", "-no-color", cwd=batch)
    result = terraform.run("validate", "-no-color", cwd=batch)
    assert "Success! The configuration is valid." in result.stdout
