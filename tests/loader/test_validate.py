"""Loading: defaults, shorthands, and what the file itself sets."""

from __future__ import annotations

import pytest

from towergen.errors import SpecError
from towergen.loader.validate import load_text

HEAD = "version: 1\nname: env-a\nregion: eu-west-1\nwork_dir: s3://bucket-a/work\n"


def test_smallest_file_takes_every_default():
    env = load_text(HEAD, "f.yaml").env
    assert env.mode == "forge" and env.compute.provisioning == "spot"
    assert env.compute.max_cpus == 64 and env.compute.instance_types == ["optimal"]
    assert env.storage.lifecycle.expire_days == 30 and env.credentials.user_name == "tower"
    assert not env.compute.ebs_autoscale.enabled and env.fsx is None and env.tags == {}  # opt-in since issue 7
    assert env.storage.force_destroy is False


def test_shorthands():
    env = load_text(
        HEAD + "compute:\n  ebs_autoscale: false\nstorage:\n  allowed_buckets:\n    - s3://one\n    - {bucket: s3://two, access: read}\n",
        "f.yaml",
    ).env
    assert env.compute.ebs_autoscale.enabled is False
    assert [(b.bucket, b.access) for b in env.storage.allowed_buckets] == [("s3://one", "read-write"), ("s3://two", "read")]


def test_sections_with_everything_commented_out_are_empty():
    env = load_text(HEAD + "tags:\n  # team: x\ncompute:\nstorage:\n  allowed_buckets:\n", "f.yaml").env
    assert env.tags == {} and env.compute.max_cpus == 64 and env.storage.allowed_buckets == []


def test_yaml_anchors_and_merge_keys():
    text = HEAD + "x-defaults: &d\n  max_cpus: 32\ncompute:\n  <<: *d\n  min_cpus: 2\n"
    with pytest.raises(SpecError) as err:  # x-defaults is not a key of the format
        load_text(text, "f.yaml")
    assert [p.path for p in err.value.problems] == ["x-defaults"]
    env = load_text(HEAD + "compute:\n  <<: {max_cpus: 32}\n  min_cpus: 2\n", "f.yaml").env
    assert (env.compute.max_cpus, env.compute.min_cpus) == (32, 2)


def test_every_problem_at_once_with_positions():
    text = "version: 1\nname: Bad\nregion: eu-west-1\nwork_dir: s3://bucket-a\ncompute:\n  provisioning: on-demand\n  cost_percentage: 50\n  max_cpus: -1\n"
    with pytest.raises(SpecError) as err:
        load_text(text, "f.yaml")
    got = [(p.line, p.column, p.path) for p in err.value.problems]
    assert got == [(2, 7, "name"), (7, 3, "compute.cost_percentage"), (8, 13, "compute.max_cpus")]
