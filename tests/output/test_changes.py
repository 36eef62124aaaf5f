"""towergen changed --since: the environments whose output changed since a git revision."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from typer.testing import CliRunner

import towergen
from towergen.cli import EXIT_ERROR, app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], prog_name="towergen")


def minimal(name, extra=""):
    return f"version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://{name}-bucket/work\n{extra}"


def repo(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A repository layout: envs/a.yaml, envs/b.yaml, output folder infra/."""
    envs = tmp_path / "envs"
    envs.mkdir()
    (envs / "a.yaml").write_text(minimal("env-a"))
    (envs / "b.yaml").write_text(minimal("env-b"))
    return envs / "a.yaml", envs / "b.yaml", tmp_path / "infra"


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def test_changed_since_a_git_revision(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    a, b, out = repo(tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "envs" / "c.yaml").write_text(minimal("env-c"))
    c = tmp_path / "envs" / "c.yaml"
    towergen.render([a, b, c], out)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "first")

    monkeypatch.chdir(tmp_path)
    nothing = invoke("changed", "--since", "HEAD")
    assert nothing.exit_code == 0 and nothing.stdout == ""

    a.write_text(minimal("env-a", "compute:\n  max_cpus: 8\n"))
    (tmp_path / "envs" / "d.yaml").write_text(minimal("env-d"))
    c.unlink()
    towergen.render([a, b, tmp_path / "envs" / "d.yaml"], out, prune=True)
    result = invoke("changed", "--since", "main", "-o", "infra")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["env-a", "env-d"]
    assert result.stderr == "note: env-c was removed from infra since main (not printed)\n"
    assert towergen.changed("HEAD", out).changed == ["env-a", "env-d"]

    git(tmp_path, "commit", "-qam", "second")
    git(tmp_path, "checkout", "-q", "--orphan", "empty")
    git(tmp_path, "rm", "-rqf", "--cached", ".")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "no manifest")
    every = invoke("changed", "--since", "empty", "-o", str(out))
    assert every.stdout.splitlines() == ["env-a", "env-b", "env-d"], "no manifest at the revision: every one is new"


def test_changed_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    a, _, out = repo(tmp_path)
    no_manifest = invoke("changed", "--since", "HEAD", "-o", out)
    assert no_manifest.exit_code == EXIT_ERROR and "render into" in no_manifest.stderr
    towergen.render([a], out)
    no_repo = invoke("changed", "--since", "HEAD", "-o", out)
    assert no_repo.exit_code == EXIT_ERROR and "not in a git repository" in no_repo.stderr
    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "x")
    for bad in ("nope", "--output=/tmp/x"):
        result = invoke("changed", f"--since={bad}", "-o", out)
        assert result.exit_code == EXIT_ERROR and "expected a git revision" in result.stderr, result.output
