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


# --- boundaries (issue 18: mutants that moved a limit survived, the corpus only had far-off values) --

def problems(text: str) -> list[tuple[str, str]]:
    """(key path, message) of every problem of a file; [] when it loads."""
    try:
        load_text(text, "env.yaml")
    except towergen.SpecError as err:
        return [(p.path, p.message) for p in err.problems]
    return []


# IAM's CreateUser takes a UserName of 1 to 64 characters; towergen's user is NAME-USER_NAME.
NAME_31 = "n" + "x" * 29 + "n"  # the longest environment name


@pytest.mark.parametrize("length, refused", [(63, False), (64, False), (65, True), (66, True)])
def test_iam_user_name_is_limited_to_64_characters(length, refused):
    user = "u" * (length - len(NAME_31) - 1)
    text = HEAD.format(name=NAME_31) + f"credentials:\n  user_name: {user}\n"
    assert len(f"{NAME_31}-{user}") == length
    found = problems(text)
    if refused:
        assert found == [("credentials.user_name", f"expected at most 32 characters (the IAM user {NAME_31}-USER_NAME is limited to 64), found {len(user)} characters")]
    else:
        assert found == []


def _fsx(size: int, kind: str) -> str:
    return HEAD.format(name="fx") + (
        f"fsx:\n  create:\n    storage_gib: {size}\n    deployment_type: {kind}\n")


# What FSx for Lustre's CreateFileSystem accepts as StorageCapacity (SSD): SCRATCH_1 takes 1200,
# 2400 or a multiple of 3600; SCRATCH_2, PERSISTENT_1 and PERSISTENT_2 take 1200 or a multiple
# of 2400. 3600 and 4800 tell the two rules apart; 6000 is a multiple of 1200 that neither takes.
FSX_SIZES = {
    "SCRATCH_1": {"ok": [1200, 2400, 3600, 7200, 10800], "refused": [4800, 6000, 2000, 3000, 9600]},
    "SCRATCH_2": {"ok": [1200, 2400, 4800, 7200, 9600], "refused": [3600, 6000, 2000, 1201, 10800]},
    "PERSISTENT_1": {"ok": [1200, 2400, 4800, 7200], "refused": [3600, 6000, 2000, 8400]},
    "PERSISTENT_2": {"ok": [1200, 2400, 4800, 7200], "refused": [3600, 6000, 2000, 8400]},
}


@pytest.mark.parametrize("kind", sorted(FSX_SIZES))
def test_fsx_storage_sizes_per_deployment_type(kind):
    rule = "1200, 2400 or a multiple of 3600 for SCRATCH_1" if kind == "SCRATCH_1" else f"1200 or a multiple of 2400 for {kind}"
    for size in FSX_SIZES[kind]["ok"]:
        assert problems(_fsx(size, kind)) == [], (kind, size)
    for size in FSX_SIZES[kind]["refused"]:
        assert problems(_fsx(size, kind)) == [("fsx.create.storage_gib", f"expected {rule}, found {size}")], (kind, size)


def test_min_cpus_up_to_max_cpus():
    assert problems(HEAD.format(name="mc") + "compute: {min_cpus: 64, max_cpus: 64}\n") == []
    assert problems(HEAD.format(name="mc") + "compute: {min_cpus: 65, max_cpus: 64}\n") == [
        ("compute.min_cpus", "expected at most max_cpus (64), found 65")]


@pytest.mark.parametrize("key", ["aws:team", "AWS:team", "Aws:Team"])
def test_tag_keys_reserved_by_aws_in_any_case(key):
    """AWS reserves the aws: prefix whatever its case."""
    found = problems(HEAD.format(name="tg") + f"tags:\n  {key}: x\n")
    assert len(found) == 1 and "a tag key that does not start with 'aws:'" in found[0][1]
    assert problems(HEAD.format(name="tg") + "tags:\n  awsome: x\n") == []
