"""How render writes an output folder: all or nothing, user files and state left alone, links refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import towergen
from conftest import example
from towergen.errors import OutputError, RenderError, SpecError

SPOT = example("spot")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def minimal(name="t1", extra=""):
    return f"version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://{name}-bucket/work\n{extra}"


def test_bad_file_writes_nothing(tmp_path):
    good = write(tmp_path, "good.yaml", minimal("good"))
    bad = write(tmp_path, "bad.yaml", minimal("bad", "compute:\n  max_cpus: 0\n"))
    with pytest.raises(SpecError) as err:
        towergen.render([good, bad], tmp_path / "out")
    assert [p.path for p in err.value.problems] == ["compute.max_cpus"]
    assert not (tmp_path / "out").exists()


def test_failed_check_writes_nothing(tmp_path, monkeypatch):
    def refuse(files):
        raise RenderError("does not parse")

    monkeypatch.setattr("towergen.renderer.many.check_files", refuse)
    with pytest.raises(RenderError):
        towergen.render([SPOT], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_same_name_in_two_files(tmp_path):
    a = write(tmp_path, "a.yaml", minimal("same"))
    b = write(tmp_path, "b.yaml", minimal("same"))
    with pytest.raises(SpecError) as err:
        towergen.render([a, b], tmp_path / "out")
    # one name (and here, as a consequence, one bucket both would create)
    problem = next(p for p in err.value.problems if p.path == "name")
    assert problem.file.endswith("b.yaml") and problem.line == 2 and "a.yaml" in problem.message


def test_user_files_and_state_are_left_alone(tmp_path):
    out = tmp_path / "out"
    towergen.render([SPOT], out)
    env = out / "spot-eu-west-1"
    (env / "terraform.tfstate").write_text("{}")
    (env / "backend.tf").write_text("# mine\n")
    (env / ".terraform").mkdir()
    (env / ".terraform" / "x").write_text("x")
    header = (env / "main.tf").read_text().splitlines()[0]
    (env / "main.tf").write_text(header + "\nedited by hand below towergen's header\n")
    result = towergen.render([SPOT], out)
    assert {c.path: c.action for c in result.changes if c.action != "identical"} == {"spot-eu-west-1/main.tf": "overwrite"}
    assert (env / "terraform.tfstate").read_text() == "{}"
    assert (env / "backend.tf").read_text() == "# mine\n"
    assert (env / ".terraform" / "x").exists()
    assert not list(out.glob(".towergen-*")), "the staging folder is removed"


def test_files_no_longer_generated_are_deleted(tmp_path):
    out = tmp_path / "out"
    spec = write(tmp_path, "env.yaml", minimal("switch"))
    towergen.render([spec], out)
    assert (out / "switch" / "user-data.tftpl").exists()
    spec.write_text(minimal("switch", "mode: manual\nmanual:\n  head_queue: h\n  compute_queue: c\n"))
    result = towergen.render([spec], out)
    assert ("delete", "switch/user-data.tftpl") in {(c.action, c.path) for c in result.changes}
    assert not (out / "switch" / "user-data.tftpl").exists()


def test_refuses_symlinks(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / "spot-eu-west-1")
    with pytest.raises(OutputError, match="symbolic link"):
        towergen.render([SPOT], out)
    assert list(elsewhere.iterdir()) == []
    link = tmp_path / "link"
    os.symlink(out, link)
    with pytest.raises(OutputError, match="symbolic link"):
        towergen.render([SPOT], link)


def test_output_path_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("")
    with pytest.raises(OutputError, match="not a folder"):
        towergen.render([SPOT], tmp_path / "out")
