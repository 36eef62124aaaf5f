"""Warnings about a valid file (loader/advice.py): each says what the output really does."""

from __future__ import annotations

import json

import pytest

import towergen

HEAD = "version: 1\nname: {name}\nregion: eu-west-1\naccount_id: '123456789012'\nwork_dir: s3://{name}-boot-test/work\n"


def render_one(tmp_path, extra: str, name: str = "t1", head: str = HEAD):
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(head.format(name=name) + extra)
    result = towergen.render([spec], tmp_path / "out")
    return result, tmp_path / "out" / name


FSX = "fsx:\n  mount_path: /fsx\n  create: {storage_gib: 1200, deployment_type: SCRATCH_2}\n"


def test_fusion_and_autoscale_warns_and_leaves_no_volume_permissions(tmp_path):
    result, folder = render_one(tmp_path, "compute:\n  fusion: true\n  ebs_autoscale: true\n")
    assert [w.path for w in result.warnings] == ["compute.ebs_autoscale"]
    assert "ignored" in result.warnings[0].message
    assert "ebs_autoscale          = false" in (folder / "main.tf").read_text()


def test_autoscale_alone_warns_legacy(tmp_path):
    result, _ = render_one(tmp_path, "compute:\n  ebs_autoscale: true\n")
    assert [w.path for w in result.warnings] == ["compute.ebs_autoscale"] and "legacy" in result.warnings[0].message


def test_fsx_work_dir_is_refused_with_what_to_do(tmp_path):
    spec = tmp_path / "t1.yaml"
    spec.write_text("version: 1\nname: t1\nregion: eu-west-1\nwork_dir: /fsx/work\n" + FSX)
    with pytest.raises(towergen.SpecError) as info:
        towergen.render([spec], tmp_path / "out")
    message = str(info.value)
    assert "expected an s3://BUCKET[/PREFIX] work directory" in message and "awsbatch executor" in message
    assert "mount the file system for data with fsx.mount_path" in message
    assert not (tmp_path / "out").exists()


def test_fsx_beside_an_s3_work_dir_is_mounted_in_every_task(tmp_path):
    _, folder = render_one(tmp_path, FSX)
    config = (folder / "nextflow.config").read_text()
    assert "workDir = 's3://t1-boot-test/work'" in config and "volumes = ['/fsx']" in config
    assert json.loads((folder / "platform-compute-env.json").read_text())["workDir"] == "s3://t1-boot-test/work"


def test_lifecycle_on_whole_bucket_also_allowed_read_write_warns(tmp_path):
    head = "version: 1\nname: {name}\nregion: eu-west-1\naccount_id: '123456789012'\nwork_dir: s3://boot-test-bucket\n"
    result, _ = render_one(tmp_path, "storage:\n  allowed_buckets: [s3://boot-test-bucket]\n", head=head)
    assert [w.path for w in result.warnings] == ["storage.allowed_buckets[0]"]
    assert "expire too" in result.warnings[0].message
    quiet, _ = render_one(tmp_path, "storage:\n  allowed_buckets: [s3://boot-test-bucket]\n", "t2")  # prefix work/
    assert quiet.warnings == []


def test_chosen_subnets_hear_what_boot_downloads(tmp_path):
    subnets = "  network:\n    subnet_ids: [subnet-0123456789abcdef0]\n"
    result, _ = render_one(tmp_path, "compute:\n" + subnets, "ta")
    assert [w.path for w in result.warnings] == ["compute.network.subnet_ids"]
    assert "awscli.amazonaws.com" in result.warnings[0].message and "NAT gateway" in result.warnings[0].message
    quiet, _ = render_one(tmp_path, "compute:\n  fusion: true\n" + subnets, "tb")
    assert quiet.warnings == []  # Fusion with NVMe downloads nothing at boot
