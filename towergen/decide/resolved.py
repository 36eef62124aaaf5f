"""One resolved environment: every name, flag, default, derived path and guard target.

``resolve(env)`` is made once from a validated environment file. Everything that reads an
environment (the values each template prints, the runner and smoke) reads these facts instead of
working them out again, so that each fact is derived in exactly one place. The small derivation
functions below are shared with ``towergen.loader.rules``, which speaks about files whose keys
relate wrongly (and so cannot always be resolved whole).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..spec.model import SEQERA_CLOUD_PRINCIPAL, Environment, FsxCreate, bucket_of
from ..spec.regions import REGIONS
from . import artifacts
from .boot import BootStep, boot_steps, download_hosts
from .platform import (
    REQUIRED_TERRAFORM_WRITE_ONLY,
    PlatformPlan,
    credentials_type,
    platform_plan,
    trusted_principal,
)
from .scratch import ScratchPlan, scratch_plan

# Facts of the platform's Batch Forge (docs/environment-file.md says where each comes from).
FUSION_ROOT = "/fusion"  # Fusion mounts every bucket under it
SPOT_ATTEMPTS = 5  # Nextflow retries a task reclaimed by spot this many times (its default is 0)
UNSCHEDULABLE_JOB_TIMEOUT_SECONDS = 4 * 3600
DEFAULT_ALLOCATION = {"spot": "SPOT_PRICE_CAPACITY_OPTIMIZED", "on-demand": "BEST_FIT_PROGRESSIVE"}
# FSx for Lustre per-unit throughput (MB/s/TiB): the values AWS accepts, and the default towergen
# picks, per deployment type; scratch types take none.
FSX_THROUGHPUT = {"PERSISTENT_1": (50, 100, 200), "PERSISTENT_2": (125, 250, 500, 1000)}
FSX_DEFAULT_THROUGHPUT = {"PERSISTENT_1": 200, "PERSISTENT_2": 250}
# Tags on every resource (provider default_tags) and on the instances and volumes Batch
# launches, so that the console says who manages a resource and which environment it belongs
# to; the file's own tags are added, and win where they name the same key.
MANAGED_BY_TAG = "managed-by"
ENVIRONMENT_TAG = "towergen-environment"

# The principals credentials.role.trusted_principal names (decide/platform.py: Seqera Cloud's
# access role, as the platform's docs give it for role credentials).
NAMED_PRINCIPALS = {"seqera-cloud": SEQERA_CLOUD_PRINCIPAL}
# Resources the dispose: false guard protects from destroy and replacement.
GUARD_BUCKET = "work bucket"
GUARD_FILE_SYSTEM = "file system"


# Terraform's native S3 state locking (use_lockfile) came with Terraform 1.10.
REQUIRED_TERRAFORM = ">= 1.5.0"
REQUIRED_TERRAFORM_LOCKFILE = ">= 1.10.0"


# --- derivations shared with load.rules ----------------------------------------------------------


def work_bucket(env: Environment) -> str | None:
    """The work_dir's bucket (None only for a work_dir the model refused)."""
    return bucket_of(env.work_dir)


def user_policy(env: Environment) -> Literal["forge", "launch"]:
    """The platform's policy: as given, else launch. The platform file registers a manual
    compute environment (existing queues), which the platform runs pipelines on and never
    manages, so the forge policy's update and delete permissions would go unused."""
    return env.credentials.policy or "launch"


def state_key(env: Environment) -> str | None:
    """The remote state's object key (None without a backend)."""
    if env.backend is None:
        return None
    return env.backend.key or f"towergen/{env.name}/terraform.tfstate"


def state_region(env: Environment) -> str | None:
    """The region of the remote state's bucket (None without a backend)."""
    if env.backend is None:
        return None
    return env.backend.region or env.region


def trusted_principal_arn(env: Environment) -> str | None:
    """The principal that may assume the platform's role: with a platform section, the one its
    credential names (decide/platform.py); else credentials.role's named one (trusted_principal)
    or the ARN given; None for user credentials."""
    if env.platform is not None:
        return trusted_principal(env)
    role = env.credentials.role
    if env.credentials.type != "role" or role is None:
        return None
    if role.trusted_principal is not None:
        return NAMED_PRINCIPALS[role.trusted_principal]
    return role.trusted_principal_arn


def required_terraform(env: Environment) -> str:
    """The Terraform versions the root accepts: the lock file needs 1.10, the platform
    credential's write-only secret key (platform.credentials: keys) 1.11."""
    if env.platform is not None and env.platform.credentials == "keys":
        return REQUIRED_TERRAFORM_WRITE_ONLY
    if env.backend is not None and env.backend.lockfile:
        return REQUIRED_TERRAFORM_LOCKFILE
    return REQUIRED_TERRAFORM


def iam_user_name(env: Environment) -> str:
    """The platform's IAM user: NAME-USER_NAME."""
    return f"{env.name}-{env.credentials.user_name}"


def work_prefix(work_dir: str) -> str:
    """The key prefix of an s3:// work_dir, with a trailing '/' ("" for the bucket root)."""
    rest = work_dir[len("s3://") :]
    _, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


def lifecycle_prefix(env: Environment) -> str:
    """The key prefix the work bucket's lifecycle rule covers ("" = the whole bucket): as given,
    else the work_dir's prefix."""
    given = env.storage.lifecycle.prefix
    return given if given is not None else work_prefix(env.work_dir)


def aws_cli_path(env: Environment) -> str:
    """Where the AWS CLI that Nextflow mounts into tasks is (aws.batch.cliPath): towergen's pinned
    AWS CLI v2 on forge instances, else the platform's bundle (compute.aws_cli, or manual mode's
    instances that the platform's own launch template set up)."""
    if env.mode == "forge" and env.compute.aws_cli is None:
        return artifacts.AWS_CLI_PATH
    return artifacts.PLATFORM_BUNDLE_CLI_PATH


def role_names(env: Environment) -> dict[str, str]:
    """The IAM roles the iam module creates for an environment, by actor (``NAME-head-job`` ...)."""
    return {"head_job": f"{env.name}-head-job", "compute_job": f"{env.name}-compute-job", "platform": f"{env.name}-platform"}


def execution_role_name(env: Environment) -> str:
    """The Batch execution role the iam module creates for pipeline secrets: ``NAME-execution``."""
    return f"{env.name}-execution"


def is_spot(env: Environment) -> bool:
    return env.mode == "forge" and env.compute.provisioning == "spot"


def under(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or inside it."""
    path = path.rstrip("/")
    root = root.rstrip("/")
    return path == root or path.startswith(root + "/")


# --- the resolved environment --------------------------------------------------------------------


@dataclass(frozen=True)
class BucketAccess:
    name: str
    read_only: bool
    external: bool = False  # outside this account (storage.external_buckets): the head job and tasks read it
    kms_key_arn: str | None = None  # the customer managed key it encrypts with (SSE-KMS)


@dataclass(frozen=True)
class Resolved:
    """What towergen builds for one environment, decided once."""

    env: Environment
    source_name: str  # the environment file's name, for headers

    # switches
    forge: bool  # towergen creates the Batch resources (mode: forge)
    spot: bool  # spot work instances
    head_environment: bool  # the head queue has an on-demand CPU compute environment of its own
    fusion: bool
    autoscale: bool  # amazon-ebs-autoscale on every instance
    scratch: ScratchPlan | None  # instance types, scratch and boot disk (forge mode; scratch.py)
    fsx_create: bool  # towergen creates a file system
    fsx_spec: FsxCreate | None  # what the file system it creates is (fsx.create)
    compute_in_fsx_zone: bool  # instances run in the created file system's subnet (single-zone Lustre)
    fsx_mount_path: str | None  # instances mount a file system here (created or existing)

    # names (what Terraform creates or reads)
    head_queue: str
    compute_queue: str
    user_name: str  # the platform's IAM user's name
    credentials_type: Literal["user", "role"]  # how the platform signs in (platform.credentials decides, else credentials.type)
    creates_user: bool  # towergen creates that user (credentials.type user and create_user)
    user_policy: str  # forge | launch
    scoped_environments: bool  # the forge policy manages exactly this environment's compute environments
    trusted_principal_arn: str | None  # who may assume the platform's role (credentials.type role)
    roles: dict[str, str]  # role names by actor: head_job, compute_job, platform (role_names)
    role_arns: dict[str, str] | None  # their ARNs (and the execution role's), when account_id makes them known
    execution_role: str | None  # the Batch execution role of pipeline secrets (credentials.pipeline_secrets)
    aws_managed_policies: bool  # the platform's documented AWS managed read-only policies (launch)

    # storage
    work_bucket: str | None  # None: the work directory is on FSx
    create_bucket: bool  # towergen creates the work bucket
    lifecycle_prefix: str | None  # the prefix the lifecycle rule covers (created buckets only)
    expire_days: int | None  # work files expire after this many days (None: never; 0 and null disable)
    abort_upload_days: int | None  # unfinished multipart uploads are aborted after this many days
    buckets: tuple[BucketAccess, ...]  # the work bucket first, then the allowed ones, then the external ones
    storage_encryption: bool  # the work bucket encrypts by default (towergen created it)

    # state and Terraform
    state_key: str | None  # the remote state's object key (None: local state)
    state_region: str | None  # the state bucket's region
    required_terraform: str  # the Terraform versions the root accepts

    # compute (forge mode)
    batch_type: Literal["SPOT", "EC2"] | None  # the work compute environment's provisioning
    allocation_strategy: str | None
    fsx_throughput: int | None
    scratch_path: str | None  # EBS autoscale's volume (process.scratch)
    fusion_cache_path: str | None
    cli_path: str | None  # the AWS CLI Nextflow mounts into task containers
    ebs_kms_key_arn: str | None  # the customer managed key of the instances' volumes (forge mode)
    boot_steps: tuple[BootStep, ...]  # the user-data's steps, in order (forge mode; boot.py)

    # Nextflow and the platform
    nextflow_scratch: str | bool | None  # process.scratch: False with Fusion, the autoscaled volume, or unset
    task_volumes: tuple[str, ...]  # aws.batch.volumes
    max_spot_attempts: int | None
    nvme_storage: bool  # the platform's nvnmeStorageEnabled: Fusion's cache on NVMe instance storage

    # dispose: false
    guarded: tuple[str, ...]  # what the guard protects (GUARD_*); empty: no guard is rendered

    # tags
    tags: dict[str, str]  # on every resource: towergen's defaults, then the file's

    # platform: the environment registered in the platform by the same apply (platform.py)
    platform: PlatformPlan | None = None

    @property
    def name(self) -> str:
        return self.env.name

    @property
    def region(self) -> str:
        return self.env.region

    @property
    def work_dir(self) -> str:
        return self.env.work_dir

    @property
    def user_data_vars(self) -> tuple[str, ...]:
        """What Terraform fills into the user-data (``templatefile``), in order of use."""
        return tuple(dict.fromkeys(v for step in self.boot_steps for v in step.template_vars))

    @property
    def download_hosts(self) -> tuple[str, ...]:
        return download_hosts(self.boot_steps)

    @property
    def header(self) -> list[str]:
        return [
            f"Generated by towergen from {self.source_name} (environment {self.env.name}).",
            "Do not edit: change the environment file and render again.",
        ]


def _buckets(env: Environment) -> tuple[BucketAccess, ...]:
    buckets: list[BucketAccess] = []
    seen: set[str] = set()
    bucket = work_bucket(env)
    if bucket:
        buckets.append(BucketAccess(bucket, False, kms_key_arn=env.storage.kms_key_arn))
        seen.add(bucket)
    for item in env.storage.allowed_buckets:
        if item.name not in seen:
            buckets.append(BucketAccess(item.name, item.access == "read", kms_key_arn=item.kms_key_arn))
            seen.add(item.name)
    for external in env.storage.external_buckets:
        if external.name not in seen:
            buckets.append(BucketAccess(external.name, True, external=True, kms_key_arn=external.kms_key_arn))
            seen.add(external.name)
    return tuple(buckets)


def resolve(env: Environment, source_name: str = "") -> Resolved:
    """Every fact about ``env`` that the output needs, for an environment that passed the rules."""
    forge = env.mode == "forge"
    c = env.compute
    spot = is_spot(env)
    fusion = forge and c.fusion
    scratch = scratch_plan(env) if forge else None
    autoscale = scratch is not None and scratch.autoscale
    fsx = env.fsx
    creating = fsx.create if forge and fsx is not None else None
    fsx_create = creating is not None
    bucket = work_bucket(env)
    create_bucket = bucket is not None and env.storage.create_bucket

    throughput: int | None = None
    if creating is not None:
        throughput = creating.per_unit_storage_throughput
        if throughput is None:
            throughput = FSX_DEFAULT_THROUGHPUT.get(creating.deployment_type)

    scratch_path = c.ebs_autoscale.mount_path if autoscale else None
    fusion_cache = scratch.fusion_cache_path if fusion and scratch is not None else None
    volumes: list[str] = []
    if fsx is not None:
        volumes.append(fsx.mount_path)
    if fusion:
        volumes.append(f"{fusion_cache}:/tmp")
    elif scratch_path is not None:
        volumes.append(scratch_path)

    guarded: list[str] = []
    if forge and not c.dispose:
        if create_bucket:
            guarded.append(GUARD_BUCKET)
        if fsx_create:
            guarded.append(GUARD_FILE_SYSTEM)

    roles = role_names(env)
    role_arns = None
    if env.account_id:
        partition = REGIONS[env.region]
        role_arns = {actor: f"arn:{partition}:iam::{env.account_id}:role/{name}" for actor, name in roles.items()}
        if env.credentials.pipeline_secrets:
            role_arns["execution"] = f"arn:{partition}:iam::{env.account_id}:role/{execution_role_name(env)}"

    if forge:
        head_queue, compute_queue = f"{env.name}-head", f"{env.name}-work"
    else:
        assert env.manual is not None  # the rules refuse manual mode without it
        head_queue, compute_queue = env.manual.head_queue, env.manual.compute_queue

    cli_path = None if fusion else aws_cli_path(env)
    policy = user_policy(env)
    managed = env.credentials.aws_managed_policies
    signs_in = credentials_type(env)
    return Resolved(
        env=env,
        source_name=source_name,
        forge=forge,
        spot=spot,
        # spot: a reclaim must never kill the pipeline's driver; on-demand: when asked for
        # (compute.head_queue), e.g. so that the head job of a GPU environment runs on a cheap CPU
        head_environment=forge and (spot or "head_queue" in c.model_fields_set),
        fusion=fusion,
        autoscale=autoscale,
        scratch=scratch,
        fsx_create=fsx_create,
        fsx_spec=creating,
        compute_in_fsx_zone=fsx_create,
        fsx_mount_path=fsx.mount_path if fsx is not None else None,
        head_queue=head_queue,
        compute_queue=compute_queue,
        user_name=iam_user_name(env),
        credentials_type=signs_in,
        creates_user=signs_in == "user" and env.credentials.create_user,
        user_policy=policy,
        scoped_environments=forge and policy == "forge",
        trusted_principal_arn=trusted_principal_arn(env),
        roles=roles,
        role_arns=role_arns,
        execution_role=execution_role_name(env) if env.credentials.pipeline_secrets else None,
        aws_managed_policies=(managed if managed is not None else not forge) and policy == "launch",
        work_bucket=bucket,
        create_bucket=create_bucket,
        lifecycle_prefix=lifecycle_prefix(env) if create_bucket else None,
        expire_days=env.storage.lifecycle.expire_days or None,
        abort_upload_days=env.storage.lifecycle.abort_incomplete_multipart_days or None,
        buckets=_buckets(env),
        storage_encryption=create_bucket,
        state_key=state_key(env),
        state_region=state_region(env),
        required_terraform=required_terraform(env),
        batch_type=("SPOT" if spot else "EC2") if forge else None,
        allocation_strategy=(c.allocation_strategy or DEFAULT_ALLOCATION[c.provisioning]) if forge else None,
        fsx_throughput=throughput,
        scratch_path=scratch_path,
        fusion_cache_path=fusion_cache,
        cli_path=cli_path,
        ebs_kms_key_arn=c.ebs_kms_key_arn if forge else None,
        boot_steps=boot_steps(env, scratch, cli_path=cli_path, fsx_create=fsx_create) if scratch is not None else (),
        nextflow_scratch=False if fusion else scratch_path,
        task_volumes=tuple(volumes),
        max_spot_attempts=SPOT_ATTEMPTS if spot else None,
        nvme_storage=fusion and scratch is not None and scratch.nvme,
        guarded=tuple(guarded),
        tags={MANAGED_BY_TAG: "towergen", ENVIRONMENT_TAG: env.name, **env.tags},
        platform=platform_plan(env, role_arns),
    )
