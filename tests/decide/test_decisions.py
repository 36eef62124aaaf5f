"""Decisions towergen makes for the user, each checked where it lands in the rendered files.

The golden trees (tests/golden/) carry all of these too, but a golden regeneration after a
careless change would accept a changed decision along with everything else (issue 18). Each
test here states the decision itself, with the expected value written out: a default, a pinned
version or checksum cannot change without a test saying so. The files are rendered in memory and
read back with python-hcl2, JSON and the email package: not with towergen's own formatting.
"""

from __future__ import annotations

import json
import re

import hcl2
import pytest

from conftest import ROOT, parts, user_data
from towergen.decide.resolved import resolve
from towergen.loader.validate import load_text
from towergen.renderer.environment import render_environment

# account_id names the job roles, so the platform file and nextflow.config are written
HEAD = "version: 1\nname: {name}\nregion: {region}\naccount_id: '123456789012'\nwork_dir: {work_dir}\n"


def loaded(extra: str = "", name: str = "dd", region: str = "eu-west-1", work_dir: str | None = None):
    return load_text(HEAD.format(name=name, region=region, work_dir=work_dir or f"s3://{name}-bucket/work") + extra, "env.yaml")


def files(extra: str = "", **kw) -> dict[str, str]:
    return render_environment(loaded(extra, **kw).resolved)


def _plain(value):
    """python-hcl2's reading of a value, with string quotes taken off."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items() if k != "__is_block__"}
    return value


def blocks(text: str, kind: str) -> dict[str, dict]:
    """The ``kind`` blocks (module, resource type, ...) of an HCL file by name, values plain."""
    found: dict[str, dict] = {}
    for block in hcl2.loads(text).get(kind, []):
        for name, body in block.items():
            found[_plain(name)] = _plain(body)
    return found


def module_args(main_tf: str, module: str) -> dict:
    return blocks(main_tf, "module")[module]


# --- compute: provisioning and allocation strategy ----------------------------------------------


@pytest.mark.parametrize(
    "extra, batch_type, strategy",
    [
        ("", "SPOT", "SPOT_PRICE_CAPACITY_OPTIMIZED"),  # spot is the default provisioning
        ("compute:\n  provisioning: spot\n", "SPOT", "SPOT_PRICE_CAPACITY_OPTIMIZED"),
        ("compute:\n  provisioning: on-demand\n", "EC2", "BEST_FIT_PROGRESSIVE"),
        ("compute:\n  allocation_strategy: SPOT_CAPACITY_OPTIMIZED\n", "SPOT", "SPOT_CAPACITY_OPTIMIZED"),
        ("compute:\n  provisioning: on-demand\n  allocation_strategy: BEST_FIT\n", "EC2", "BEST_FIT"),
    ],
    ids=["default", "spot", "on-demand", "given-spot", "given-on-demand"],
)
def test_allocation_strategy_defaults_per_provisioning(extra, batch_type, strategy):
    r = loaded(extra).resolved
    assert (r.batch_type, r.allocation_strategy) == (batch_type, strategy)
    compute = module_args(files(extra)["main.tf"], "compute")
    assert (compute["provisioning"], compute["allocation_strategy"]) == (batch_type, strategy)


def test_spot_bids_and_the_on_demand_head_environment():
    spot = module_args(files("compute:\n  cost_percentage: 60\n")["main.tf"], "compute")
    assert (spot["bid_percentage"], spot["head_max_vcpus"]) == (60, 8)
    assert module_args(files()["main.tf"], "compute")["bid_percentage"] == 100
    assert module_args(files("compute:\n  head_queue: {max_cpus: 16}\n")["main.tf"], "compute")["head_max_vcpus"] == 16
    on_demand = module_args(files("compute:\n  provisioning: on-demand\n")["main.tf"], "compute")
    assert on_demand.get("head_max_vcpus") is None  # the head job shares the on-demand environment
    # the module gives the head job on-demand instances whatever the work environment uses
    head = blocks((ROOT / "modules" / "compute" / "main.tf").read_text(), "resource")["aws_batch_compute_environment"]["head"]
    resources = head["compute_resources"][0]
    assert (resources["type"], resources["allocation_strategy"]) == ("EC2", "BEST_FIT_PROGRESSIVE")


def test_default_sizes_and_timeouts():
    compute = module_args(files()["main.tf"], "compute")
    assert (compute["max_vcpus"], compute["min_vcpus"], compute["boot_disk_gib"]) == (64, 0, 50)
    assert compute["instance_types"] == ["optimal"]
    assert compute["unschedulable_job_timeout_seconds"] == 4 * 3600  # Forge cancels jobs RUNNABLE for 4 hours
    platform = json.loads(files()["platform-compute-env.json"])
    assert (platform["headJobCpus"], platform["headJobMemoryMb"]) == (1, 4096)


# --- Nextflow: spot attempts ---------------------------------------------------------------------


def test_spot_attempts_only_on_spot():
    """Nextflow retries a task reclaimed by spot 5 times (Forge's value; Nextflow's default is 0)."""
    spot = files()
    assert re.search(r"^\s*maxSpotAttempts = 5$", spot["nextflow.config"], re.M)
    platform = json.loads(spot["platform-compute-env.json"])
    assert "aws.batch.maxSpotAttempts = 5" in platform["nextflowConfig"].splitlines()
    assert loaded().resolved.max_spot_attempts == 5
    on_demand = files("compute:\n  provisioning: on-demand\n")
    assert "maxSpotAttempts" not in on_demand["nextflow.config"]
    assert "maxSpotAttempts" not in json.loads(on_demand["platform-compute-env.json"]).get("nextflowConfig", "")
    manual = files("mode: manual\nmanual: {head_queue: h, compute_queue: c}\n")
    assert "maxSpotAttempts" not in manual["nextflow.config"]


# --- IAM: the platform's policy and the AWS managed policies ------------------------------------

MANUAL = "mode: manual\nmanual: {head_queue: h, compute_queue: c}\n"


@pytest.mark.parametrize(
    "extra, policy, managed",
    [
        # launch by default: the platform file registers a manual environment that the platform
        # never manages, so forge's update and delete permissions would go unused (issue 15)
        ("", "launch", False),  # the managed policies are a default in manual mode only
        ("credentials: {policy: forge}\n", "forge", False),
        ("credentials: {aws_managed_policies: true}\n", "launch", True),
        (MANUAL, "launch", True),  # the platform's documented manual setup
        (MANUAL + "credentials: {aws_managed_policies: false}\n", "launch", False),
    ],
    ids=["default", "forge-asked", "launch-managed", "manual", "manual-scoped"],
)
def test_platform_policy_and_managed_policies_defaults(extra, policy, managed):
    r = loaded(extra).resolved
    assert (r.user_policy, r.aws_managed_policies) == (policy, managed)
    iam = module_args(files(extra)["main.tf"], "iam")
    assert (iam["user_policy"], iam["aws_managed_policies"]) == (policy, managed)


def test_the_platform_user_and_its_name():
    iam = module_args(files()["main.tf"], "iam")
    assert (iam["credentials_type"], iam["create_user"], iam["user_name"]) == ("user", True, "dd-tower")
    named = module_args(files("credentials: {user_name: nf, create_user: false}\n")["main.tf"], "iam")
    assert (named["create_user"], named["user_name"]) == (False, "dd-nf")


def test_the_modules_attach_exactly_the_documented_managed_policies():
    """The launch setup's three AWS managed read-only policies, only with the launch policy."""
    main = (ROOT / "modules" / "iam" / "main.tf").read_text()
    managed = set(re.findall(r'"\$\{local\.managed_arn\}/([A-Za-z0-9/-]+)"', main))
    assert managed == {
        "AmazonS3ReadOnlyAccess", "AmazonEC2ContainerRegistryReadOnly", "CloudWatchLogsReadOnlyAccess",  # launch, when asked
        "service-role/AWSBatchServiceRole", "service-role/AmazonEC2ContainerServiceforEC2Role",
        "service-role/AmazonEC2SpotFleetTaggingRole",
        "service-role/AmazonECSTaskExecutionRolePolicy",  # the execution role, with pipeline_secrets only
    }
    launch = blocks(main, "locals")
    assert "launch_managed_policies" in launch
    assert re.search(r'var\.user_policy == "launch" && var\.aws_managed_policies', main)


# --- storage: the bucket and its lifecycle --------------------------------------------------------


def test_bucket_lifecycle_defaults():
    storage = module_args(files()["main.tf"], "storage")
    assert storage["create_bucket"] is True and storage["force_destroy"] is False
    assert (storage["expiration_days"], storage["abort_incomplete_multipart_upload_days"]) == (30, 7)
    assert storage["lifecycle_prefix"] == "work/"
    whole = module_args(files(work_dir="s3://dd-bucket")["main.tf"], "storage")
    assert whole["lifecycle_prefix"] == ""
    # a prefix given replaces the work_dir's; "" is the whole bucket, not "no prefix given"
    given = module_args(files("storage:\n  lifecycle: {prefix: scratch/}\n")["main.tf"], "storage")
    assert given["lifecycle_prefix"] == "scratch/"
    everything = loaded("storage:\n  lifecycle: {prefix: ''}\n")
    assert everything.resolved.lifecycle_prefix == ""
    assert module_args(render_environment(everything.resolved)["main.tf"], "storage")["lifecycle_prefix"] == ""
    assert [w.path for w in everything.warnings] == ["storage.lifecycle.prefix"]
    off = module_args(files("storage:\n  lifecycle: {expire_days: 0, abort_incomplete_multipart_days: null}\n")["main.tf"], "storage")
    assert (off["expiration_days"], off["abort_incomplete_multipart_upload_days"]) == (None, None)


# --- dispose: false --------------------------------------------------------------------------------


def _guard(extra: str, **kw) -> list[str] | None:
    guard = blocks(files(extra, **kw)["main.tf"], "resource").get("terraform_data", {}).get("protect")
    if guard is None:
        return None
    assert guard["lifecycle"] == [{"prevent_destroy": True}]
    return guard["triggers_replace"]


FSX_CREATE = "fsx:\n  create: {storage_gib: 1200}\n"
FSX_EXISTING = "fsx:\n  dns_name: fs-0123456789abcdef0.fsx.eu-west-1.amazonaws.com\n  mount_name: abcdefgh\n"


@pytest.mark.parametrize(
    "extra, work_dir, protected",
    [
        ("compute: {dispose: false}\n", None, ["${module.storage.bucket_arn}"]),
        ("compute: {dispose: false}\n" + FSX_CREATE, None, ["${module.storage.bucket_arn}", "${module.fsx.id}"]),
        ("compute: {dispose: false}\n" + FSX_EXISTING + "storage: {create_bucket: false}\n", None, None),  # nothing towergen creates
        ("compute: {dispose: false}\nstorage: {create_bucket: false}\n", None, None),
        ("compute: {dispose: true}\n" + FSX_CREATE, None, None),
        (FSX_CREATE, None, None),  # dispose: true is the default
    ],
    ids=["bucket", "bucket-and-fsx", "existing-fsx", "existing-bucket", "dispose", "default"],
)
def test_the_guard_protects_what_towergen_creates(extra, work_dir, protected):
    assert _guard(extra, work_dir=work_dir) == protected


def test_the_guard_names_the_ids_the_modules_output():
    """The guard's triggers are replaced when the bucket or the file system would be: they must
    be the outputs that change with them."""
    fsx = blocks((ROOT / "modules" / "fsx" / "outputs.tf").read_text(), "output")
    assert fsx["id"]["value"] == "${aws_fsx_lustre_file_system.this.id}"
    storage = blocks((ROOT / "modules" / "storage" / "outputs.tf").read_text(), "output")
    assert "aws_s3_bucket.this[0].arn" in storage["bucket_arn"]["value"]


# --- pinned downloads, versions and checksums -----------------------------------------------------

AWS_CLI = {
    "x86_64": ("https://awscli.amazonaws.com/awscli-exe-linux-x86_64-2.23.6.zip",
               "8d26ffa2e9427804a9f8928c692ee83e1c88456e0519a69e63bc992caf2b2339"),
    "aarch64": ("https://awscli.amazonaws.com/awscli-exe-linux-aarch64-2.23.6.zip",
                "9c2b05dfc370cc99ec47ad374be52b828cd77d14702b2edae071d73224aacd6e"),
}
EBS_AUTOSCALE_COMMIT = "8c8ac28914bf9302e4f5821ba99daac6e7fc05eb"
EBS_AUTOSCALE = {
    "install.sh": "4d6b2719d46800ef67636f234fa7e7100ae52256287eaeed23a40814e71fa2af",
    "bin/create-ebs-volume": "1bbca1c9062ff5f00b3967c018519bd744c8ff16c88e904e71a7d0ea170a6176",
    "bin/ebs-autoscale": "2c5f1704c0dc736f70f0e1661b869846560c8a85b17115b29a80edb408c3da31",
    "shared/utils.sh": "03d6565e4ae8b6d18473c3c589ec4c962c4922899d0a83719a924e9f6403e92f",
    "config/ebs-autoscale.json": "a8bcc723382c7c04887c477a0c474f20d65646273026516d24c0448ccde61769",
    "config/ebs-autoscale.logrotate": "e07ccb5aa0219d45351cd9b508e591bbf96b72069e6d35b879e6df8bd8adc043",
    "service/systemd/ebs-autoscale.service": "055f985997a6d1a52aa011bb5ed4297997dd84ffe45114cf3af57b69a07ff014",
    "service/systemd/install.sh": "e9c98faae5ee6a863495ace332cb98cd07c469e831604a62140857b742e0cae1",
}


def _fetches(extra: str) -> dict[str, list[tuple[str, str]]]:
    """(url, sha256) of each fetch line of each user-data part, as the instance gets them."""
    text = user_data(files(extra)["user-data.tftpl"])
    found = {}
    for name, _, script in parts(text):
        found[name] = re.findall(r"\bfetch (https://\S+) ([0-9a-f]{64}) ", script)
    return found


def test_pinned_aws_cli():
    fetched = _fetches("")["30-aws-cli.sh"]
    assert sorted(fetched) == sorted(AWS_CLI.values())
    script = {n: s for n, _, s in parts(user_data(files()["user-data.tftpl"]))}["30-aws-cli.sh"]
    for arch, (url, sha) in AWS_CLI.items():
        assert re.search(rf"^\s*{arch}\) fetch {re.escape(url)} {sha} ", script, re.M), arch
    assert "install_dir=/opt/aws-cli" in script
    assert "cliPath = '/opt/aws-cli/bin/aws'" in files()["nextflow.config"]


def test_pinned_ebs_autoscale():
    fetched = _fetches("compute: {ebs_autoscale: true}\n")["20-ebs-autoscale.sh"]
    base = f"https://raw.githubusercontent.com/awslabs/amazon-ebs-autoscale/{EBS_AUTOSCALE_COMMIT}/"
    assert fetched == [(base + path, sha) for path, sha in EBS_AUTOSCALE.items()]


def test_a_given_aws_cli_bundle_replaces_the_pinned_cli():
    sha = "ab" * 32
    fetched = _fetches(f"compute:\n  aws_cli: {{url: 'https://mirror.example.org/cli.tar.gz', sha256: '{sha}'}}\n")
    assert fetched["30-aws-cli.sh"] == [("https://mirror.example.org/cli.tar.gz", sha)]
    assert "cliPath = '/home/ec2-user/miniconda/bin/aws'" in files(
        f"compute:\n  aws_cli: {{url: 'https://mirror.example.org/cli.tar.gz', sha256: '{sha}'}}\n")["nextflow.config"]


def test_pinned_terraform_and_provider_versions():
    tf = _plain(hcl2.loads(files()["versions.tf"])["terraform"][0])
    assert tf["required_version"] == ">= 1.5.0"
    assert tf["required_providers"][0]["aws"] == {"source": "hashicorp/aws", "version": ">= 5.100, < 7.0"}
    lockfile = _plain(hcl2.loads(files("backend: {bucket: dd-state}\n")["versions.tf"])["terraform"][0])
    assert lockfile["required_version"] == ">= 1.10.0"  # Terraform's S3 lock file came with 1.10
    dynamo = _plain(hcl2.loads(files("backend: {bucket: dd-state, lock: {dynamodb_table: locks}}\n")["versions.tf"])["terraform"][0])
    assert dynamo["required_version"] == ">= 1.5.0"


def test_resolve_is_what_render_prints():
    """resolve() is the one place a decision is made: render prints its facts (a smoke test of
    the wiring between the two, on the examples' most varied file)."""
    item = loaded("compute: {provisioning: on-demand, max_cpus: 32}\n")
    r = resolve(item.env, "env.yaml")
    compute = module_args(render_environment(r)["main.tf"], "compute")
    assert (compute["provisioning"], compute["allocation_strategy"], compute["max_vcpus"]) == (r.batch_type, r.allocation_strategy, 32)


# --- FSx, Fusion and the bucket's encryption -----------------------------------------------------


@pytest.mark.parametrize(
    "create, throughput",
    [
        ("{storage_gib: 1200}", None),  # SCRATCH_2 takes none
        ("{storage_gib: 1200, deployment_type: SCRATCH_1}", None),
        ("{storage_gib: 1200, deployment_type: PERSISTENT_1}", 200),
        ("{storage_gib: 1200, deployment_type: PERSISTENT_2}", 250),
        ("{storage_gib: 1200, deployment_type: PERSISTENT_2, per_unit_storage_throughput: 500}", 500),
    ],
    ids=["scratch-2", "scratch-1", "persistent-1", "persistent-2", "given"],
)
def test_fsx_throughput_defaults(create, throughput):
    fsx = module_args(files(f"fsx:\n  create: {create}\n")["main.tf"], "fsx")
    assert fsx["per_unit_storage_throughput"] == throughput
    assert fsx["storage_gib"] == 1200


def test_fusion_cache_and_writeback_limits():
    """The platform's Fusion settings: the cache at /scratch/fusion (mounted as the tasks' /tmp),
    its writeback limits, no process.scratch."""
    out = files("compute: {fusion: true}\n")
    script = {n: s for n, _, s in parts(user_data(out["user-data.tftpl"]))}["20-fusion-storage.sh"]
    assert "cache_path=/scratch/fusion" in script
    assert "vm.dirty_bytes = 1258291200" in script and "vm.dirty_background_bytes = 629145600" in script
    assert re.search(r'^\s*lvcreate .* -i "\$count" ', script, re.M), "the cache is striped over every NVMe disk"
    assert "volumes = ['/scratch/fusion:/tmp']" in out["nextflow.config"] and "scratch = false" in out["nextflow.config"]
    platform = json.loads(out["platform-compute-env.json"])
    assert (platform["waveEnabled"], platform["fusion2Enabled"]) == (True, True)
    assert "cliPath" not in platform  # Fusion stages data itself: no AWS CLI in the tasks


def test_uploads_are_encrypted_only_in_a_bucket_towergen_creates():
    assert "storageEncryption = 'AES256'" in files()["nextflow.config"]
    assert "storageEncryption" not in files("storage: {create_bucket: false}\n")["nextflow.config"]
