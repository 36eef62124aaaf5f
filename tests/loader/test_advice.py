"""Warnings about a valid file (loader/advice.py): each says what the output really does."""

from __future__ import annotations

import json

import towergen

HEAD = "version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://{name}-boot-test/work\n"


def render_one(tmp_path, extra: str, name: str = "t1", head: str = HEAD):
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(head.format(name=name) + extra)
    result = towergen.render([spec], tmp_path / "out")
    return result, tmp_path / "out" / name


FSX_HEAD = "version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: /fsx/work\n"


FSX = "fsx:\n  mount_path: /fsx\n  create: {storage_gib: 1200, deployment_type: SCRATCH_2}\n"


def test_fusion_and_autoscale_warns_and_leaves_no_volume_permissions(tmp_path):
    result, folder = render_one(tmp_path, "compute:\n  fusion: true\n  ebs_autoscale: true\n")
    assert [w.path for w in result.warnings] == ["compute.ebs_autoscale"]
    assert "ignored" in result.warnings[0].message
    assert "ebs_autoscale          = false" in (folder / "main.tf").read_text()


def test_autoscale_alone_warns_legacy(tmp_path):
    result, _ = render_one(tmp_path, "compute:\n  ebs_autoscale: true\n")
    assert [w.path for w in result.warnings] == ["compute.ebs_autoscale"] and "legacy" in result.warnings[0].message


def test_fsx_work_dir_without_bucket_warns_and_says_so(tmp_path):
    result, folder = render_one(tmp_path, FSX, head=FSX_HEAD)
    assert [w.path for w in result.warnings] == ["work_dir"]
    config = (folder / "nextflow.config").read_text()
    assert "works only through the platform" in config and "workDir = '/fsx/work'" in config
    assert json.loads((folder / "platform-compute-env.json").read_text())["workDir"] == "/fsx/work"


def test_fsx_work_dir_with_bucket_gives_plain_nextflow_an_s3_work_dir(tmp_path):
    extra = FSX + "storage:\n  allowed_buckets:\n    - {bucket: s3://ref, access: read}\n    - s3://results\n"
    result, folder = render_one(tmp_path, extra, head=FSX_HEAD)
    # the work files land in a bucket listed for data, without a lifecycle rule: render says so
    assert [w.path for w in result.warnings] == ["work_dir"] and "s3://results/work" in result.warnings[0].message
    config = (folder / "nextflow.config").read_text()
    assert "workDir = 's3://results/work'" in config and "volumes = ['/fsx']" in config


def test_lifecycle_on_whole_bucket_also_allowed_read_write_warns(tmp_path):
    head = "version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://boot-test-bucket\n"
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
