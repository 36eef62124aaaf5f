"""The values each template prints, one function per concern, all read from the resolved
environment (``resolved.py``).

Nothing here decides anything or writes text for a file: the decisions are in ``Resolved``, and
the values are put in the form of the target language (``Hcl``, ``Sh``, ``Groovy``) by
``escape.py``. Switches that templates branch on are plain booleans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..decide.resolved import GUARD_BUCKET, GUARD_FILE_SYSTEM, UNSCHEDULABLE_JOB_TIMEOUT_SECONDS, BucketAccess, Resolved
from .apply_time import REFERENCE_OF_STANDIN
from .escape import Hcl, groovy, hcl, hcl_list, hcl_map, hcl_ref, hcl_string_with_refs
from .files import USER_DATA_FILE
from .platform import EXTERNAL_ID_LOCAL

# The guard's triggers: the Terraform address of each protected resource's id.
GUARD_REFS = {GUARD_BUCKET: "module.storage.bucket_arn", GUARD_FILE_SYSTEM: "module.fsx.id"}


@dataclass
class Values:
    """Everything the templates print for one environment."""

    resolved: Resolved
    root: dict[str, Any]
    nextflow: dict[str, Any]
    platform_nextflow: dict[str, Any] | None  # the platform's nextflowConfig lines, when there are any
    backend: dict[str, Any] | None  # backend.tf, only with a backend section


def compute_values(r: Resolved) -> Values:
    root = {
        "name": hcl(r.name),
        "region": hcl(r.region),
        "work_dir": hcl(r.work_dir),
        "tags": hcl_map(r.tags),
        "iam": iam_values(r),
        "storage": storage_values(r),
        "fsx": fsx_values(r),
        "network": network_values(r),
        "compute": compute_env_values(r),
        "protect": guard_values(r),
        "manual": manual_values(r),
        # without account_id Terraform's outputs carry the files that name the job roles
        # (environment.py fills these in: complete_file_output)
        "complete_files": None,
        **provider_values(r),
    }
    return Values(
        resolved=r,
        root=root,
        nextflow=nextflow_values(r),
        platform_nextflow=platform_nextflow_values(r),
        backend=backend_values(r),
    )


# --- the root module -----------------------------------------------------------------------------


def iam_values(r: Resolved) -> dict[str, Any]:
    cred = r.env.credentials
    platform_role = r.platform is not None and r.platform.role
    buckets = [hcl_map(_bucket(b), inline=True) for b in r.buckets]
    return {
        "create_user": hcl(r.env.credentials.create_user),
        "user_name": hcl(r.user_name),
        "user_policy": hcl(r.user_policy),
        "buckets": hcl_list(buckets, multiline=True) if buckets else hcl([]),
        "create_compute_roles": hcl(r.forge),
        "create_spot_fleet_role": hcl(r.spot),
        "ebs_autoscale": hcl(r.autoscale),
        "fsx": hcl(r.fsx_create),
        # the forge policy manages exactly this environment's compute environments
        "scoped_environments": r.scoped_environments,
        # the platform and the head job submit to exactly this environment's queues
        "job_queue_names": hcl([r.head_queue, r.compute_queue]),
        "role_names": hcl_map(r.roles),
        "credentials_type": hcl(r.credentials_type),
        "role": r.credentials_type == "role",
        "trusted_principal_arn": hcl(r.trusted_principal_arn) if r.trusted_principal_arn else None,
        # with platform:, the External ID the platform's credential generates (platform.tf's local)
        "external_id_from_platform": platform_role,
        "external_id": hcl_ref(f"local.{EXTERNAL_ID_LOCAL}") if platform_role
        else hcl(cred.role.external_id) if cred.role else None,
        "ses_from_address": hcl(cred.ses_from_address) if cred.ses_from_address else None,
        "aws_managed_policies": hcl(r.aws_managed_policies),
        "ebs_kms_key_arn": hcl(r.ebs_kms_key_arn) if r.ebs_kms_key_arn else None,
        "pipeline_secrets": hcl(True) if r.execution_role else None,
    }


def _bucket(b: BucketAccess) -> dict[str, object]:
    """One entry of the iam module's buckets: name and access, and only when set, external and the key."""
    entry: dict[str, object] = {"name": b.name, "read_only": b.read_only}
    if b.external:
        entry["external"] = True
    if b.kms_key_arn:
        entry["kms_key_arn"] = b.kms_key_arn
    return entry


def storage_values(r: Resolved) -> dict[str, Any] | None:
    if r.work_bucket is None:
        return None
    return {
        "bucket_name": hcl(r.work_bucket),
        "create": r.create_bucket,
        "create_bucket": hcl(r.create_bucket),
        "force_destroy": hcl(r.env.storage.force_destroy),
        "expiration_days": hcl(r.expire_days),
        "abort_days": hcl(r.abort_upload_days),
        "lifecycle_prefix": hcl(r.lifecycle_prefix),
    }


def fsx_values(r: Resolved) -> dict[str, Any] | None:
    create = r.fsx_spec
    if create is None:
        return None
    return {
        "storage_gib": hcl(create.storage_gib),
        "deployment_type": hcl(create.deployment_type),
        "per_unit_storage_throughput": hcl(r.fsx_throughput),
    }


def network_values(r: Resolved) -> dict[str, Any] | None:
    if not r.forge:
        return None
    net = r.env.compute.network
    return {
        "vpc_id": hcl(net.vpc_id),
        "subnet_ids": hcl(list(net.subnet_ids)),
        "security_group_ids": hcl(list(net.security_group_ids)),
    }


def compute_env_values(r: Resolved) -> dict[str, Any] | None:
    if not r.forge:
        return None
    c = r.env.compute
    sp = r.scratch
    assert sp is not None
    fsx_vars = {"fsx_dns_name": hcl_ref("module.fsx.dns_name"), "fsx_mount_name": hcl_ref("module.fsx.mount_name")}
    return {
        "spot": r.spot,
        "head_environment": r.head_environment,
        "provisioning": hcl(r.batch_type),
        "max_vcpus": hcl(c.max_cpus),
        "min_vcpus": hcl(c.min_cpus),
        "bid_percentage": hcl(c.cost_percentage),
        "allocation_strategy": hcl(r.allocation_strategy),
        "instance_types": hcl(list(sp.instance_types)),
        "head_max_vcpus": hcl(c.head_queue.max_cpus),
        "gpu": hcl(c.gpu),
        "ami_id": hcl(c.ami_id),
        "boot_disk_gib": hcl(sp.boot_disk_gib),
        "boot_disk_throughput": hcl(sp.boot_disk_throughput) if sp.boot_disk_throughput else None,
        "ebs_kms_key_arn": hcl(r.ebs_kms_key_arn) if r.ebs_kms_key_arn else None,
        "head_queue_name": hcl(r.head_queue),
        "work_queue_name": hcl(r.compute_queue),
        # towergen's own interpolation, not a YAML value: printed as it is
        "user_data_file": Hcl('"${path.module}/' + USER_DATA_FILE + '"'),
        "user_data_vars": hcl_map({name: fsx_vars[name] for name in r.user_data_vars}, inline=True) if r.user_data_vars else hcl({}),
        "unschedulable_job_timeout_seconds": hcl(UNSCHEDULABLE_JOB_TIMEOUT_SECONDS),
        # with a file system towergen creates, instances run in its subnet: Lustre is single-zone,
        # and traffic from another zone is slower and charged
        "subnet_ids": hcl_ref("module.fsx.subnet_ids") if r.compute_in_fsx_zone else hcl_ref("module.network.subnet_ids"),
        # instances join the file system's security group, whose rules admit its own members
        "security_group_ids": (
            Hcl(f"concat({hcl_ref('module.network.security_group_ids')}, [{hcl_ref('module.fsx.security_group_id')}])")
            if r.fsx_create
            else hcl_ref("module.network.security_group_ids")
        ),
    }


def guard_values(r: Resolved) -> Hcl | None:
    if not r.guarded:
        return None
    return hcl_list([hcl_ref(GUARD_REFS[g]) for g in r.guarded], multiline=False)


def manual_values(r: Resolved) -> dict[str, Any] | None:
    if r.forge:
        return None
    return {"head_queue": hcl(r.head_queue), "compute_queue": hcl(r.compute_queue)}


def provider_values(r: Resolved) -> dict[str, Any]:
    """The account guard and the role of the provider block, and the Terraform version."""
    env = r.env
    role = env.assume_role
    return {
        "required_version": hcl(r.required_terraform),
        "allowed_account_ids": hcl([env.account_id]) if env.account_id else None,
        "assume_role": (
            {
                "role_arn": hcl(role.role_arn),
                "external_id": hcl(role.external_id) if role.external_id else None,
                "session_name": hcl(role.session_name) if role.session_name else None,
            }
            if role
            else None
        ),
    }


def backend_values(r: Resolved) -> dict[str, Any] | None:
    """backend.tf's S3 backend; None without a backend section (towergen then writes none)."""
    env = r.env
    b = env.backend
    if b is None:
        return None
    return {
        "bucket": hcl(b.bucket),
        "key": hcl(r.state_key),
        "region": hcl(r.state_region),
        "kms_key_id": hcl(b.kms_key_id) if b.kms_key_id else None,
        "dynamodb_table": hcl(b.lock.dynamodb_table) if b.lock else None,
    }


# --- nextflow.config and the platform's compute environment ----------------------------------------


def complete_file_output(text: str) -> Hcl:
    """A file's text as a Terraform expression whose value is the complete file: one quoted line
    per line (readable in outputs.tf), each job-role stand-in replaced by the role's ARN."""
    lines = [hcl_string_with_refs(line, REFERENCE_OF_STANDIN) for line in text.split("\n")]
    return Hcl('join("\\n", ' + hcl_list(lines, multiline=True) + ")")


def nextflow_values(r: Resolved, role_arns: dict[str, str] | None = None) -> dict[str, Any]:
    """nextflow.config's values; ``role_arns``: the job roles it names (default: r.role_arns)."""
    arns = role_arns if role_arns is not None else r.role_arns
    scratch = r.nextflow_scratch
    return {
        "work_dir": groovy(r.work_dir),
        "queue": groovy(r.compute_queue),
        "region": groovy(r.region),
        "scratch": groovy(scratch) if scratch is not None else None,
        "cli_path": groovy(r.cli_path) if r.cli_path else None,
        "volumes": groovy(list(r.task_volumes)) if r.task_volumes else None,
        "max_spot_attempts": groovy(r.max_spot_attempts) if r.max_spot_attempts else None,
        "batch_block": bool(r.cli_path or r.task_volumes or r.max_spot_attempts or arns),
        "storage_encryption": r.storage_encryption,
        "fusion": r.fusion,
        "job_role": groovy(arns["compute_job"]) if arns else None,
        "mail_from": groovy(r.env.credentials.ses_from_address) if r.env.credentials.ses_from_address else None,
    }


def platform_values(r: Resolved, nextflow_config: str | None, role_arns: dict[str, str] | None = None) -> dict[str, Any]:
    """The compute environment in the platform's import format (tw compute-envs import);
    ``nextflow_config``: the lines rendered from ``platform_nextflow``; ``role_arns``: the job
    roles it names (default: r.role_arns)."""
    arns = role_arns if role_arns is not None else r.role_arns
    platform: dict[str, Any] = {
        "discriminator": "aws-batch",
        "region": r.region,
        "workDir": r.work_dir,
        "headQueue": r.head_queue,
        "computeQueue": r.compute_queue,
    }
    if arns:
        platform["headJobRole"] = arns["head_job"]
        platform["computeJobRole"] = arns["compute_job"]
        if "execution" in arns:
            # pipeline secrets: tasks read the platform's tower-* secrets through this role
            platform["executionRole"] = arns["execution"]
    if r.cli_path:
        platform["cliPath"] = r.cli_path
    platform.update(
        {
            "waveEnabled": r.fusion,
            "fusion2Enabled": r.fusion,
            "nvnmeStorageEnabled": r.nvme_storage,
            "headJobCpus": r.env.head_job.cpus,
            "headJobMemoryMb": r.env.head_job.memory_mib,
        }
    )
    if nextflow_config:
        platform["nextflowConfig"] = nextflow_config
    # with platform: the labels platform.tf creates (tags that cannot be labels left out)
    labels = r.platform.labels if r.platform is not None else tuple(r.env.tags.items())
    if labels:
        platform["labels"] = [{"name": k, "value": v, "resource": True} for k, v in labels]
    return platform


def platform_nextflow_values(r: Resolved) -> dict[str, Any] | None:
    """What nextflow.config says beyond the platform's own settings (the platform's
    ``nextflowConfig``): the same values nextflow.config prints, in the same form."""
    settings = {
        "volumes": groovy(list(r.task_volumes)) if r.task_volumes else None,
        "max_spot_attempts": groovy(r.max_spot_attempts) if r.max_spot_attempts else None,
        # with Fusion the platform sets process.scratch itself
        "scratch": groovy(r.nextflow_scratch) if isinstance(r.nextflow_scratch, str) else None,
        # the head job sends the notification mail through SES, from the one address it may use
        "mail_from": groovy(r.env.credentials.ses_from_address) if r.env.credentials.ses_from_address else None,
    }
    return settings if any(v is not None for v in settings.values()) else None
