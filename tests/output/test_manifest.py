"""The manifest of an output folder: what it records, render --check, orphans and --prune."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import towergen
from conftest import example
from towergen.cli import EXIT_ERROR, app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], prog_name="towergen")


def minimal(name, extra=""):
    return f"version: 1\nname: {name}\nregion: eu-west-1\naccount_id: '123456789012'\nwork_dir: s3://{name}-bucket/work\n{extra}"


def repo(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A repository layout: envs/a.yaml, envs/b.yaml, output folder infra/."""
    envs = tmp_path / "envs"
    envs.mkdir()
    (envs / "a.yaml").write_text(minimal("env-a"))
    (envs / "b.yaml").write_text(minimal("env-b"))
    return envs / "a.yaml", envs / "b.yaml", tmp_path / "infra"


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_manifest_records_each_environment(tmp_path):
    a, b, out = repo(tmp_path)
    towergen.render([a, b], out)
    manifest = json.loads((out / towergen.MANIFEST).read_text())
    assert manifest["towergen"] == towergen.__version__ and manifest["format"] == 2
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
    assert result.exit_code == EXIT_ERROR and "the environment name" in result.stderr
    assert (tmp_path / "main.tf").read_text() == "not towergen's\n"


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

    header = (out / "env-b" / "outputs.tf").read_text().splitlines()[0]
    (out / "env-b" / "outputs.tf").write_text(header + "\nedited by hand\n")
    edited = invoke("render", "--check", b, "-o", out)
    assert edited.exit_code == EXIT_ERROR and f"   change  {out}/env-b/outputs.tf" in edited.stdout

    (out / "env-b" / "outputs.tf").write_text("written by hand, without towergen's header\n")
    mine = invoke("render", "--check", b, "-o", out)
    assert mine.exit_code == EXIT_ERROR and f"refusing to overwrite {out}/env-b/outputs.tf" in mine.stderr


def test_check_with_bad_file_is_an_error_not_a_difference(tmp_path):
    a, _, out = repo(tmp_path)
    a.write_text(minimal("env-a", "compute:\n  max_cpus: 0\n"))
    result = invoke("render", "--check", a, "-o", out)
    assert result.exit_code == EXIT_ERROR and "compute.max_cpus" in result.stderr and result.stdout == ""


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


def test_example_renders_with_manifest(tmp_path):
    result = invoke("render", example("spot"), "-o", tmp_path / "infra", "-q")
    assert result.exit_code == 0
    assert (tmp_path / "infra" / towergen.MANIFEST).exists()


def test_help():
    for command in (["render"], ["changed"]):
        result = invoke(*command, "--help")
        assert result.exit_code == 0 and "Usage: towergen" in result.stdout
    assert "--check" in invoke("render", "--help").stdout and "--since" in invoke("changed", "--help").stdout
