"""The pre-commit hooks of .pre-commit-hooks.yaml, run by pre-commit itself on a temporary git
repository laid out like examples/gitops.

The hooks are taken from the manifest as they are, with one change: `language: system`, so that
pre-commit runs the towergen of this checkout instead of installing a copy of the repository
into its own environment (about 30 s; `pre-commit try-repo` does that, see docs/gitops.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

MANIFEST = ROOT / ".pre-commit-hooks.yaml"
VENV_BIN = Path(sys.executable).parent

GOOD = "version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://towergen-{name}-work\n"

# pre-commit is installed by .ci/run for the scanner tier (not a dependency of towergen's tests)
pytestmark = pytest.mark.scanners


def _pre_commit() -> str:
    found = shutil.which("pre-commit", path=str(VENV_BIN)) or shutil.which("pre-commit")
    assert found, "pre-commit is not installed (pip install pre-commit; .ci/run installs it)"
    return found


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path) -> Path:
    repo = tmp_path / "fleet"
    (repo / "environments" / "research").mkdir(parents=True)
    (repo / "environments" / "production").mkdir(parents=True)
    (repo / "environments" / "research" / "genomics.yaml").write_text(GOOD.format(name="research-genomics"))
    (repo / "environments" / "production" / "genomics.yaml").write_text(GOOD.format(name="prod-genomics"))
    hooks = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    for hook in hooks:
        hook["language"] = "system"
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}))
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "ci")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "fleet")
    return repo


def run_hook(repo: Path, hook: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home")}
    return subprocess.run([_pre_commit(), "run", hook, "--all-files", "--color=never"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)


def test_manifest_is_valid():
    result = subprocess.run([_pre_commit(), "validate-manifest", str(MANIFEST)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [h["id"] for h in yaml.safe_load(MANIFEST.read_text())] == ["towergen-validate", "towergen-render-check"]


def test_validate_hook(repo):
    result = run_hook(repo, "towergen-validate")
    assert result.returncode == 0 and "Passed" in result.stdout, result.stdout
    bad = repo / "environments" / "production" / "genomics.yaml"
    bad.write_text(bad.read_text() + "compute:\n  max_cpus: 0\n")
    result = run_hook(repo, "towergen-validate")
    assert result.returncode == 1 and "Failed" in result.stdout, result.stdout
    assert "error: environments/production/genomics.yaml:6:13: compute.max_cpus:" in result.stdout


def test_render_check_hook(repo):
    """Needs `towergen render --check` (exit 0 current, 1 stale), built on the write branch."""
    subprocess.run([str(VENV_BIN / "towergen"), "render", "-q", "environments/research/genomics.yaml",
                    "environments/production/genomics.yaml", "-o", "infra"], cwd=repo, check=True, capture_output=True)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "rendered")
    result = run_hook(repo, "towergen-render-check")
    assert result.returncode == 0 and "Passed" in result.stdout, result.stdout
    env = repo / "environments" / "research" / "genomics.yaml"
    env.write_text(env.read_text() + "compute:\n  max_cpus: 128\n")
    result = run_hook(repo, "towergen-render-check")
    assert result.returncode == 1 and "Failed" in result.stdout, result.stdout
    assert "research-genomics/main.tf" in result.stdout


def test_example_config_uses_these_hooks():
    config = ROOT / "examples" / "gitops" / ".pre-commit-config.yaml"
    result = subprocess.run([_pre_commit(), "validate-config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = {h["id"]: h for h in yaml.safe_load(MANIFEST.read_text())}
    (repo,) = yaml.safe_load(config.read_text())["repos"]
    for hook in repo["hooks"]:
        assert hook["id"] in manifest
        assert hook["args"] == manifest[hook["id"]]["args"], "the example spells out the defaults"
