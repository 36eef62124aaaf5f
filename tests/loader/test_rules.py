"""Cross-key rules (loader/rules.py) that the bad-file corpus does not show on their own."""

from __future__ import annotations

import pytest

import towergen

HEAD = "version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://{name}-boot-test/work\n"


def render_one(tmp_path, extra: str, name: str = "t1", head: str = HEAD):
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(head.format(name=name) + extra)
    result = towergen.render([spec], tmp_path / "out")
    return result, tmp_path / "out" / name


def test_force_destroy_only_by_its_own_key(tmp_path):
    _, folder = render_one(tmp_path, "compute:\n  dispose: true\n", "ta")
    assert "force_destroy = false" in (folder / "main.tf").read_text()
    _, folder = render_one(tmp_path, "storage:\n  force_destroy: true\ncompute:\n  dispose: false\n", "tb")
    assert "force_destroy = true" in (folder / "main.tf").read_text()


def test_force_destroy_needs_a_created_bucket(tmp_path):
    with pytest.raises(towergen.SpecError) as err:
        render_one(tmp_path, "storage:\n  create_bucket: false\n  force_destroy: true\n")
    assert [p.path for p in err.value.problems] == ["storage.force_destroy"]
