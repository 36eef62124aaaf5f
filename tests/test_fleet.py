"""A fleet in one output folder: the manifest, render --check, deleted environment files
(orphans) and --prune, partial renders, towergen changed --since, and the parallel render."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import towergen
from conftest import EXAMPLES, ROOT, example
from towergen.renderer import environment as render_env
from towergen.renderer import many as build
from towergen.cli import EXIT_ERROR, app
from towergen.errors import SpecError

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


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- the manifest --------------------------------------------------------------------------------


def test_manifest_records_each_environment(tmp_path):
    a, b, out = repo(tmp_path)
    towergen.render([a, b], out)
    manifest = json.loads((out / towergen.MANIFEST).read_text())
    assert manifest["towergen"] == towergen.__version__ and manifest["format"] == 1
    assert manifest["environments"].keys() == {"env-a", "env-b"}
    assert manifest["environments"]["env-a"]["source"] == "../envs/a.yaml"
    digest = manifest["environments"]["env-a"]["sha256"]
    assert len(digest) == 64 and digest != manifest["environments"]["env-b"]["sha256"]
    # deterministic: the same files in another order, from another folder, give the same bytes
    first = (out / towergen.MANIFEST).read_bytes()
    cwd = os.getcwd()
    os.chdir(tmp_path / "envs")
    try:
        towergen.render(["b.yaml", "a.yaml"], out)
    finally:
        os.chdir(cwd)
    assert (out / towergen.MANIFEST).read_bytes() == first


def test_digest_covers_the_modules_an_environment_calls(tmp_path):
    a, _, _ = repo(tmp_path)
    files, _ = towergen.check([a])
    before = towergen.output.manifest.env_digests(["env-a"], files)["env-a"]
    changed = dict(files)
    changed["modules/compute/main.tf"] += "# changed\n"
    assert towergen.output.manifest.env_digests(["env-a"], changed)["env-a"] != before
    readme = dict(files)
    readme["modules/compute/README.md"] += "more words\n"
    assert towergen.output.manifest.env_digests(["env-a"], readme)["env-a"] == before, "documentation is not output Terraform applies"


def test_broken_manifest_is_a_clean_error(tmp_path):
    a, _, out = repo(tmp_path)
    towergen.render([a], out)
    (out / towergen.MANIFEST).write_text("<<<<<<< HEAD\n")
    result = invoke("render", a, "-o", out)
    assert result.exit_code == EXIT_ERROR
    assert "expected towergen's manifest" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("name", ["..", "../elsewhere", "a/b", "modules", "Upper"])
def test_manifest_names_never_reach_outside(tmp_path, name):
    a, _, out = repo(tmp_path)
    towergen.render([a], out)
    (tmp_path / "main.tf").write_text("not towergen's\n")
    manifest = json.loads((out / towergen.MANIFEST).read_text())
    manifest["environments"][name] = {"source": "../gone.yaml", "sha256": "0" * 64}
    (out / towergen.MANIFEST).write_text(json.dumps(manifest))
    result = invoke("render", "--prune", a, "-o", out)
    assert result.exit_code == EXIT_ERROR and "is not an environment name" in result.stderr
    assert (tmp_path / "main.tf").read_text() == "not towergen's\n"


# --- render --check ------------------------------------------------------------------------------


def test_check_up_to_date_and_stale(tmp_path):
    a, b, out = repo(tmp_path)
    missing = invoke("render", "--check", a, b, "-o", out)
    assert missing.exit_code == EXIT_ERROR
    assert not out.exists(), "--check writes nothing, not even the folder"
    assert f"   create  {out}/env-a/main.tf" in missing.stdout
    assert invoke("render", a, b, "-o", out).exit_code == 0
    ok = invoke("render", "--check", a, b, "-o", out)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.splitlines() == [f"{out} is up to date with 2 environments ({len(tree(out))} identical)"]

    before = tree(out)
    a.write_text(minimal("env-a", "mode: manual\nmanual:\n  head_queue: h\n  compute_queue: c\n"))
    stale = invoke("render", "--check", a, b, "-o", out)
    assert stale.exit_code == EXIT_ERROR
    lines = stale.stdout.splitlines()
    assert f"   change  {out}/env-a/main.tf" in lines
    assert f"   delete  {out}/env-a/user-data.tftpl" in lines
    assert f"   change  {out}/{towergen.MANIFEST}" in lines
    assert not any("env-b" in line for line in lines)
    assert lines[-1].startswith(f"{out} is out of date: ") and "run towergen render" in lines[-1]
    assert "to change, 1 to delete)" in lines[-1]
    assert tree(out) == before

    quiet = invoke("render", "--check", "-q", a, b, "-o", out)
    assert quiet.exit_code == EXIT_ERROR and quiet.stdout.splitlines() == lines[-1:]

    (out / "env-b" / "outputs.tf").write_text("edited by hand\n")
    edited = invoke("render", "--check", b, "-o", out)
    assert edited.exit_code == EXIT_ERROR and f"   change  {out}/env-b/outputs.tf" in edited.stdout


def test_check_with_bad_file_is_an_error_not_a_difference(tmp_path):
    a, _, out = repo(tmp_path)
    a.write_text(minimal("env-a", "compute:\n  max_cpus: 0\n"))
    result = invoke("render", "--check", a, "-o", out)
    assert result.exit_code == EXIT_ERROR and "compute.max_cpus" in result.stderr and result.stdout == ""


# --- deleted environment files, partial renders, --prune -------------------------------------------


def test_partial_render_keeps_the_others(tmp_path):
    a, b, out = repo(tmp_path)
    towergen.render([a, b], out)
    result = invoke("render", a, "-o", out)
    assert result.exit_code == 0 and result.stderr == ""
    assert "env-b" in json.loads((out / towergen.MANIFEST).read_text())["environments"]
    assert (out / "env-b" / "main.tf").exists()
    assert invoke("render", "--check", a, "-o", out).exit_code == 0


def test_deleted_file_warns_and_keeps_until_prune(tmp_path):
    a, b, out = repo(tmp_path)
    towergen.render([a, b], out)
    (out / "env-b" / "terraform.tfstate").write_text("{}")
    b.unlink()

    kept = invoke("render", a, "-o", out)
    assert kept.exit_code == 0
    assert kept.stderr.startswith(f"warning: {out / 'env-b'}: its environment file ../envs/b.yaml is gone")
    assert f"towergen destroy {out / 'env-b'} --target aws" in kept.stderr and "--prune" in kept.stderr
    assert (out / "env-b" / "main.tf").exists()
    assert "env-b" in json.loads((out / towergen.MANIFEST).read_text())["environments"]

    check = invoke("render", "--check", a, "-o", out)
    assert check.exit_code == 0 and "is gone" in check.stderr, "render would change nothing without --prune"
    check_prune = invoke("render", "--check", "--prune", a, "-o", out)
    assert check_prune.exit_code == EXIT_ERROR
    assert f"   delete  {out}/env-b/main.tf" in check_prune.stdout
    assert (out / "env-b" / "main.tf").exists()

    pruned = invoke("render", "--prune", a, "-o", out)
    assert pruned.exit_code == 0 and pruned.stderr == ""
    assert f"   delete  {out}/env-b/main.tf" in pruned.stdout
    assert sorted(p.name for p in (out / "env-b").iterdir()) == ["terraform.tfstate"], "the state is not towergen's"
    assert "env-b" not in json.loads((out / towergen.MANIFEST).read_text())["environments"]

    (out / "env-b" / "terraform.tfstate").unlink()
    b.write_text(minimal("env-b"))
    towergen.render([a, b], out)
    b.unlink()
    towergen.render([a], out, prune=True)
    assert not (out / "env-b").exists(), "an emptied folder is removed"


def test_renamed_environment_is_an_orphan(tmp_path):
    a, b, out = repo(tmp_path)
    towergen.render([a, b], out)
    b.write_text(minimal("env-c"))
    result = towergen.render([a, b], out)
    assert result.orphans == ["env-b"]
    assert "now renders the environment 'env-c'" in result.warnings[0].message
    manifest = json.loads((out / towergen.MANIFEST).read_text())["environments"]
    assert set(manifest) == {"env-a", "env-b", "env-c"}


# --- towergen changed --since ----------------------------------------------------------------------


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


# --- many environments at once ---------------------------------------------------------------------


def _fleet(tmp_path: Path, n: int) -> list[Path]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from render_fleet import fleet
    finally:
        sys.path.pop(0)
    return fleet(tmp_path / "envs", n)


def test_parallel_render_is_the_serial_render(tmp_path):
    paths = _fleet(tmp_path, 12)
    loaded1, files1 = build.render_many(paths, jobs=1)
    loaded2, files2 = build.render_many(paths, jobs=2)
    assert files1 == files2
    assert [x.env.name for x in loaded1] == [x.env.name for x in loaded2]


def test_parallel_render_reports_every_problem(tmp_path):
    paths = _fleet(tmp_path, 6)
    paths[1].write_text(paths[1].read_text().replace("version: 1", "version: 7"))
    paths[4].write_text(minimal("modules"))
    paths[5].write_text(paths[0].read_text())
    with pytest.raises(SpecError) as caught:
        build.render_many(paths, jobs=2)
    assert sorted((Path(p.file).name, p.path) for p in caught.value.problems) == [
        ("env-0001.yaml", "version"), ("env-0004.yaml", "name"), ("env-0005.yaml", "name")]


def test_parallel_render_refuses_output_that_does_not_parse(tmp_path, monkeypatch):
    from towergen.errors import RenderError

    paths = _fleet(tmp_path, 4)
    real = build.render_environment

    def broken(loaded):
        files = real(loaded)
        files["main.tf"] += "locals {\n"
        return files

    monkeypatch.setattr(build, "render_environment", broken)
    with pytest.raises(RenderError, match="main.tf"):
        build.render_many(paths, jobs=2)


def test_cached_formatting_is_the_formatter(tmp_path, monkeypatch):
    from towergen.renderer.hclfmt import format_hcl

    seen = []
    real = render_env.format_hcl_cached
    monkeypatch.setattr(render_env, "format_hcl_cached", lambda text: seen.append(text) or real(text))
    build.render_many([*EXAMPLES, *_fleet(tmp_path, 5)], jobs=1)
    assert len(seen) >= 40
    for text in seen + ["# a\n# b\n\n\nx = 1\n", "# only a comment\n", "# a\nx = 1\n", "#(\nx = 1\n"]:
        assert real(text) == format_hcl(text)


def test_benchmark_script_runs(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "render_fleet.py"), "3"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].split()[0] == "3"


def test_help():
    for command in (["render"], ["changed"]):
        result = invoke(*command, "--help")
        assert result.exit_code == 0 and "Usage: towergen" in result.stdout
    assert "--check" in invoke("render", "--help").stdout and "--since" in invoke("changed", "--help").stdout


def test_example_renders_with_manifest(tmp_path):
    result = invoke("render", example("spot"), "-o", tmp_path / "infra", "-q")
    assert result.exit_code == 0
    assert (tmp_path / "infra" / towergen.MANIFEST).exists()
