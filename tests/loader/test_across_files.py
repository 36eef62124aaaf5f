"""Rules across environment files (loader/fleet.py): names, state objects and buckets."""

from __future__ import annotations

import pytest

from towergen.errors import SpecError
from towergen.loader.fleet import load_all


def _env(folder, name, work_dir, extra=""):
    path = folder / f"{name}.yaml"
    path.write_text(f"version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: {work_dir}\n{extra}")
    return path


def test_two_environments_creating_one_bucket_are_refused(tmp_path):
    a = _env(tmp_path, "first", "s3://shared-work/a")
    b = _env(tmp_path, "second", "s3://shared-work/b")
    with pytest.raises(SpecError) as caught:
        load_all([a, b])
    (problem,) = caught.value.problems
    assert problem.file.endswith("second.yaml") and problem.path == "work_dir"
    assert "expected a work bucket no other environment creates, found shared-work" in problem.message


def test_one_creates_the_bucket_the_other_uses(tmp_path):
    a = _env(tmp_path, "first", "s3://shared-work/a")
    b = _env(tmp_path, "second", "s3://shared-work/b", "storage:\n  create_bucket: false\n  lifecycle: null\n")
    b.write_text(b.read_text().replace("  lifecycle: null\n", ""))
    assert [item.env.name for item in load_all([a, b])] == ["first", "second"]
