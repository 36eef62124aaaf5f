"""Where instances keep task data (decide/scratch.py): NVMe, the boot disk or EBS autoscale, and the instance types that go with it."""

from __future__ import annotations

import json

import towergen
from towergen.decide.scratch import scratch_plan as plan
from towergen.loader.validate import load_text

HEAD = "version: 1\nname: {name}\nregion: eu-west-1\naccount_id: '123456789012'\nwork_dir: s3://{name}-boot-test/work\n"


def env_of(extra: str, name: str = "t1", region: str = "eu-west-1"):
    return load_text(HEAD.format(name=name).replace("region: eu-west-1", f"region: {region}") + extra, "env.yaml").env


def render_one(tmp_path, extra: str, name: str = "t1", head: str = HEAD):
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(head.format(name=name) + extra)
    result = towergen.render([spec], tmp_path / "out")
    return result, tmp_path / "out" / name


def test_fusion_with_optimal_gets_nvme_families():
    p = plan(env_of("compute:\n  fusion: true\n"))
    assert p.instance_types == ("c6id", "m6id", "r6id") and p.types_replaced == "nvme"
    assert p.nvme and p.scratch == "nvme" and p.boot_disk_gib == 50 and p.boot_disk_throughput is None


def test_fusion_without_nvme_gets_forge_boot_disk():
    p = plan(env_of("compute:\n  fusion: true\n  instance_types: [m5.large, m6id.xlarge]\n"))
    assert not p.nvme and p.scratch == "boot-disk"
    assert (p.boot_disk_gib, p.boot_disk_throughput) == (100, 325)
    given = plan(env_of("compute:\n  fusion: true\n  instance_types: [m5]\n  boot_disk_gib: 60\n"))
    assert (given.boot_disk_gib, given.boot_disk_throughput) == (60, 325)


def test_gpu_with_optimal_gets_gpu_families_the_region_offers():
    p = plan(env_of("compute:\n  gpu: true\n", region="us-east-1"))
    assert p.instance_types == ("g4dn", "g5", "g6") and p.types_replaced == "gpu" and not p.nvme
    both = plan(env_of("compute:\n  gpu: true\n  fusion: true\n", region="us-east-1"))
    assert both.instance_types == ("g4dn", "g5", "g6") and both.nvme  # all three have NVMe storage
    # eu-west-1 offers no g6 (AWS's offerings data): Batch would refuse a family it cannot launch
    assert plan(env_of("compute:\n  gpu: true\n", region="eu-west-1")).instance_types == ("g4dn", "g5")


def test_fusion_with_optimal_in_a_region_without_the_forge_families():
    regions = [r for r in ("ap-south-2", "eu-south-2", "me-central-1", "il-central-1", "ca-west-1")
               if plan(env_of("compute:\n  fusion: true\n", region=r)).instance_types != ("c6id", "m6id", "r6id")]
    assert regions, "some region lacks c6id, m6id or r6id"
    for region in regions:
        p = plan(env_of("compute:\n  fusion: true\n", region=region))
        assert p.nvme and p.instance_types, region


def test_ebs_autoscale_is_opt_in_and_ignored_beside_fusion():
    assert not plan(env_of("")).autoscale
    assert plan(env_of("compute:\n  ebs_autoscale: true\n")).scratch == "ebs-autoscale"
    mapping = env_of("compute:\n  ebs_autoscale:\n    initial_size_gib: 100\n")  # a mapping asks for it
    assert mapping.compute.ebs_autoscale.enabled and plan(mapping).autoscale
    assert not env_of("compute:\n  ebs_autoscale: {enabled: false}\n").compute.ebs_autoscale.enabled
    both = plan(env_of("compute:\n  fusion: true\n  ebs_autoscale: true\n"))
    assert not both.autoscale and both.autoscale_ignored and both.scratch == "nvme"


def test_platform_json_says_nvme_only_with_nvme(tmp_path):
    _, folder = render_one(tmp_path, "compute:\n  fusion: true\n", "ta")
    assert json.loads((folder / "platform-compute-env.json").read_text())["nvnmeStorageEnabled"] is True
    result, folder = render_one(tmp_path, "compute:\n  fusion: true\n  instance_types: [m5]\n", "tb")
    assert json.loads((folder / "platform-compute-env.json").read_text())["nvnmeStorageEnabled"] is False
    main = (folder / "main.tf").read_text()
    assert "boot_disk_gib        = 100" in main and "boot_disk_throughput = 325" in main
    assert [w.path for w in result.warnings] == ["compute.instance_types"]


def test_an_on_demand_gpu_environment_can_give_its_head_job_a_cpu_environment(tmp_path):
    """compute.head_queue with on-demand: the head queue gets an on-demand CPU environment of
    its own (the ECS AMI, optimal types), so the head job does not hold a GPU instance."""
    from towergen.decide.resolved import resolve

    gpu = "compute:\n  provisioning: on-demand\n  gpu: true\n  instance_types: [g5]\n"
    assert not resolve(env_of(gpu)).head_environment, "by default the head job shares the work environment"
    with_head = resolve(env_of(gpu + "  head_queue:\n    max_cpus: 4\n"))
    assert with_head.head_environment and not with_head.spot
    _, folder = render_one(tmp_path, gpu + "  head_queue:\n    max_cpus: 4\n")
    main = (folder / "main.tf").read_text()
    assert "head_max_vcpus      = 4" in main and "spot_fleet_role_arn" not in main
    assert resolve(env_of("")).head_environment, "spot always has one"


def test_fusion_with_sized_nvme_types_keeps_the_nvme_plan():
    """A sized type answers for its own size (issue 18: detection by family name only made the
    plan fall back to a 100 GiB boot disk for m6id.2xlarge, silently)."""
    p = plan(env_of("compute:\n  fusion: true\n  instance_types: [m6id.2xlarge, c6id.4xlarge]\n"))
    assert p.instance_types == ("m6id.2xlarge", "c6id.4xlarge") and p.types_replaced is None
    assert p.nvme and p.scratch == "nvme"
    assert (p.boot_disk_gib, p.boot_disk_throughput) == (50, None)
    mixed = plan(env_of("compute:\n  fusion: true\n  instance_types: [m6id.2xlarge, c6id, r6id.large]\n"))
    assert mixed.nvme and mixed.boot_disk_gib == 50
    # a sized type without instance storage beside them: the boot disk, at Forge's size
    without = plan(env_of("compute:\n  fusion: true\n  instance_types: [m6id.2xlarge, m6i.2xlarge]\n"))
    assert not without.nvme and (without.boot_disk_gib, without.boot_disk_throughput) == (100, 325)


def test_sized_nvme_types_reach_the_platform_and_the_launch_template():
    import hcl2

    from towergen.renderer.environment import render_environment

    loaded = load_text(HEAD.format(name="tz") + "compute:\n  fusion: true\n  instance_types: [m6id.2xlarge, c6id.4xlarge]\n", "env.yaml")
    files = render_environment(loaded.resolved)
    assert json.loads(files["platform-compute-env.json"])["nvnmeStorageEnabled"] is True
    (compute,) = [m['"compute"'] for m in hcl2.loads(files["main.tf"])["module"] if '"compute"' in m]
    assert compute["boot_disk_gib"] == 50 and "boot_disk_throughput" not in compute
    assert compute["instance_types"] == ['"m6id.2xlarge"', '"c6id.4xlarge"']
    assert not loaded.warnings
