"""Cross-key rules (loader/rules.py) that the bad-file corpus does not show on their own."""

from __future__ import annotations

import pytest

import towergen
from towergen.errors import SpecError
from towergen.loader.validate import load_text

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


def test_an_unquoted_account_id_does_not_hide_the_account_check():
    """YAML reads 111111111111 as a number: towergen takes its digits, so the role in another
    account is still reported (it once hid behind "put it in quotes")."""
    text = (HEAD.format(name="acct") + "account_id: 111111111111\n"
            "assume_role:\n  role_arn: arn:aws:iam::222222222222:role/towergen-deploy\n")
    with pytest.raises(SpecError) as caught:
        load_text(text, "env.yaml")
    assert [p.path for p in caught.value.problems] == ["assume_role.role_arn"]
    assert "expected a role in account 111111111111" in caught.value.problems[0].message


def test_buckets_are_named_alike_everywhere():
    """s3://BUCKET or the name alone, in every key that names a bucket (work_dir excepted: there
    s3:// says the work directory is not on FSx)."""
    env = load_text(HEAD.format(name="notation") + "backend:\n  bucket: s3://acme-state\n"
                    "storage:\n  allowed_buckets: [refs-bucket, s3://more-refs]\n", "env.yaml").env
    assert env.backend is not None and env.backend.bucket == "acme-state"
    assert [b.bucket for b in env.storage.allowed_buckets] == ["s3://refs-bucket", "s3://more-refs"]
