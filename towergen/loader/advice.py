"""Warnings for a valid environment file: what towergen decided that its author may not expect.

They read the resolved environment (``towergen.decide``), so that a warning says what the output
really does, and are placed at the key that caused them. A warning never changes the output or
the exit code.
"""

from __future__ import annotations

from ..decide.resolved import Resolved
from ..decide.scratch import NVME_DEFAULT_FAMILIES, has_nvidia_gpu, has_nvme
from ..errors import Problem
from ..spec import instances
from ..spec.reader import Loc
from .source import Source


def check(r: Resolved, src: Source) -> list[Problem]:
    warnings: list[Problem] = []

    def warn(loc: Loc, message: str) -> None:
        warnings.append(src.problem(loc, message))

    env = r.env
    storage = env.storage
    lifecycle = storage.lifecycle
    if r.create_bucket and r.lifecycle_prefix == "" and (lifecycle.expire_days or 0) > 0:
        shared = [i for i, b in enumerate(storage.allowed_buckets) if b.name == r.work_bucket and b.access == "read-write"]
        if shared:
            warn(("storage", "allowed_buckets", shared[0]), f"the lifecycle rule deletes every object in {r.work_bucket} after {lifecycle.expire_days} days, and this entry lists the same bucket for pipelines to write to: results written there expire too (give the work files a prefix, or set storage.lifecycle.prefix)")
        else:
            where = ("storage", "lifecycle", "prefix") if src.has("storage", "lifecycle", "prefix") else ("work_dir",)
            warn(where, f"the lifecycle rule covers the whole bucket {r.work_bucket}: every object in it is deleted after {lifecycle.expire_days} days, whatever wrote it (give work_dir a prefix, such as s3://{r.work_bucket}/work, to limit it to the work files)")
    if r.role_arns is None:
        warn(("account_id",), "not set, so the job roles' ARNs are known only after terraform apply: platform-compute-env.json and nextflow.config are not written (without job roles, jobs would run as the instance role). After apply, `terraform output -raw platform_compute_env_json` and `terraform output -raw nextflow_config` give them complete; or set account_id to have them rendered")
    if env.credentials.policy == "forge" and r.forge:
        warn(("credentials", "policy"), "forge lets the platform update, disable and delete this environment's queues and compute environments, which Terraform owns; the platform file registers them as a manual environment, which the platform never manages, so these permissions go unused (launch, the default, runs pipelines)")
    if r.platform is not None and r.platform.unlabelled_tags:
        for key in r.platform.unlabelled_tags:
            warn(("tags", key), "not one of the platform's labels: label names and values are 2 to 39 letters and digits joined by single '-' or '_', so this tag stays on the AWS resources only (platform.labels chooses the labels instead)")
    p = r.scratch
    if p is None:  # manual mode: the instances are not towergen's
        return warnings
    c = env.compute
    if c.min_cpus > 0:
        warn(("compute", "min_cpus"), f"min_cpus is {c.min_cpus}: instances stay running (and cost money) even with no pipeline to run")
    if r.allocation_strategy == "BEST_FIT":
        warn(("compute", "allocation_strategy"), "BEST_FIT compute environments cannot be updated in place: any later change replaces them (BEST_FIT_PROGRESSIVE can be updated)")
    if p.autoscale_ignored:
        replaced = f" (instance types {', '.join(p.instance_types)} in place of optimal)" if p.types_replaced == "nvme" else ""
        warn(("compute", "ebs_autoscale"), f"ignored with fusion: true: Fusion keeps its cache at {p.fusion_cache_path} on {'NVMe instance storage' if p.nvme else 'the boot disk'}{replaced}; Fusion would fill an autoscaled volume up to its maximum, and Seqera calls the two incompatible (remove ebs_autoscale)")
    elif p.autoscale:
        warn(("compute", "ebs_autoscale"), "EBS autoscale is legacy: the platform deprecated it and refuses it for new environments; towergen installs a pinned amazon-ebs-autoscale that works with IMDSv2, but Fusion with NVMe storage (fusion: true) or the boot disk is the supported choice")
    if p.fusion and not p.nvme:
        missing = ", ".join(t for t in p.instance_types if not has_nvme(t))
        warn(("compute", "instance_types"), f"{missing}: no NVMe instance storage known to towergen, so Fusion's cache is on the boot disk ({p.boot_disk_gib} GiB gp3 at {p.boot_disk_throughput} MB/s) and nvnmeStorageEnabled is false (NVMe families such as {', '.join(NVME_DEFAULT_FAMILIES)} are faster)")
    catalogue = instances.source()
    for i, name in enumerate(c.instance_types):
        if instances.offered_in(name, env.region) is False:
            warn(("compute", "instance_types", i), f"{name} is not offered in {env.region} (AWS's offerings as moto {catalogue['moto']} recorded them): Batch cannot launch it there")
    without_gpu = [t for t in p.instance_types if not has_nvidia_gpu(t)]
    if c.gpu and c.ami_id is None and without_gpu:
        warn(("compute", "instance_types"), f"gpu is true but {', '.join(without_gpu)} {'has' if len(without_gpu) == 1 else 'have'} no NVIDIA GPU: those instances get the GPU AMI, and GPU jobs never run on them (list NVIDIA families such as g5, g6 or p4d)")
    hosts = r.download_hosts
    if hosts and c.network.subnet_ids:
        warn(("compute", "network", "subnet_ids"), f"instances download from {', '.join(hosts)} while they boot: in a subnet without a NAT gateway that step fails and each instance shuts down (fusion: true downloads nothing at boot; compute.aws_cli can name a mirror; see docs/boot.md)")
    if c.aws_cli is not None and r.fusion:
        warn(("compute", "aws_cli"), "ignored with fusion: true: tasks reach S3 through Fusion, not the AWS CLI")
    return warnings
