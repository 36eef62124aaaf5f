"""The environment file (format version 1) as pydantic models.

Field-level rules live here (types, ranges, AWS name patterns); rules that relate several keys
live in ``towergen.loader.rules``, and what towergen makes of the values in ``towergen.decide``.
Every validator raises ``expected(...)`` so that the loader can print "expected X, found Y" with
the value the user wrote.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from .regions import REGIONS


def expected(description: str) -> PydanticCustomError:
    """The error every validator raises: the loader appends ", found <value>"."""
    return PydanticCustomError("expected", "{expected}", {"expected": description})


def _pattern(regex: str, description: str) -> AfterValidator:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise expected(description)
        return value

    return AfterValidator(check)


# The key that names a base file. It is read by the loader (towergen.loader.extends), not a
# field of the model: only the merged result of a file and its bases is an Environment.
EXTENDS = "extends"


# --- value types ---------------------------------------------------------------------------------

NAME_RE = r"[a-z](?:[a-z0-9-]{0,29}[a-z0-9])"
EnvName = Annotated[
    str,
    _pattern(NAME_RE, "2 to 31 characters: a lowercase letter, then lowercase letters, digits or '-', not ending in '-'"),
]


def _check_region(value: str) -> str:
    if value not in REGIONS:
        close = difflib.get_close_matches(value.lower(), REGIONS, n=1, cutoff=0.75)
        hint = f" (did you mean '{close[0]}'?)" if close else " such as eu-west-1"
        raise expected("an AWS region code" + hint)
    return value


Region = Annotated[str, AfterValidator(_check_region)]


def bucket_of(url: str) -> str | None:
    """The bucket of an s3:// URL (None for a path)."""
    if not url.startswith("s3://"):
        return None
    return url[len("s3://") :].split("/", 1)[0]


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid S3 general purpose bucket name, or None."""
    if not 3 <= len(name) <= 63:
        return "a bucket name of 3 to 63 characters"
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name):
        return "a bucket name of lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "a bucket name without '..', '.-' or '-.'"
    try:
        ipaddress.IPv4Address(name)
        return "a bucket name that is not an IP address"
    except ValueError:
        pass
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"a bucket name that does not start with '{prefix}'"
    for suffix in ("-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap"):
        if name.endswith(suffix):
            return f"a bucket name that does not end with '{suffix}'"
    return None


# S3 object key characters that need no special handling (AWS "safe characters")
KEY_PREFIX_RE = re.compile(r"[A-Za-z0-9!_.*'()/=-]*")


def _check_s3_bucket_url(value: str) -> str:
    if not value.startswith("s3://"):
        raise expected("an S3 bucket as s3://BUCKET")
    rest = value[len("s3://") :].rstrip("/")
    if "/" in rest:
        raise expected("an S3 bucket as s3://BUCKET, without a path")
    problem = bucket_name_problem(rest)
    if problem:
        raise expected(problem)
    return value


def _bucket_url(value: Any) -> Any:
    """A bare bucket name is the bucket: ``BUCKET`` and ``s3://BUCKET`` mean the same."""
    if isinstance(value, str) and value and "/" not in value and ":" not in value:
        return "s3://" + value
    return value


S3BucketUrl = Annotated[str, BeforeValidator(_bucket_url), AfterValidator(_check_s3_bucket_url)]

def _has_dot_segment(path: str) -> bool:
    return any(seg in (".", "..") for seg in path.split("/"))


def _reject_dot_segments(value: str) -> str:
    if _has_dot_segment(value):
        raise expected("an absolute path without '.' or '..' parts")
    return value


# Mount paths that would hide part of the operating system (or the AWS CLI towergen installs).
SYSTEM_PATHS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr",
                "/home/ec2-user/miniconda", "/opt/aws-cli")
SYSTEM_DIRS = ("/home", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var", "/var/lib", "/home/ec2-user",
               "/var/lib/docker")  # Docker runs while user-data mounts: its folder cannot be swapped


def _check_mount_path(value: str) -> str:
    trimmed = value.rstrip("/")
    if trimmed in SYSTEM_DIRS or any(trimmed == p or trimmed.startswith(p + "/") for p in SYSTEM_PATHS):
        raise expected("a mount path that hides no system folder (such as /scratch, /fsx or /mnt/fsx)")
    return value


PATH_RE = r"(/[A-Za-z0-9._-]+)+"
AbsPath = Annotated[
    str,
    _pattern(PATH_RE, "an absolute path of letters, digits, '.', '_' and '-' such as /scratch"),
    AfterValidator(_reject_dot_segments),
    AfterValidator(_check_mount_path),
]


# Why a work directory on FSx is refused, and what to do instead (issue 15). The platform file is
# a manually registered environment, and the three ways to run on it all need S3: open-source
# Nextflow's awsbatch executor refuses any other work directory (nf-amazon
# AwsBatchExecutor.validateWorkDir), the head job's container does not mount the file system,
# and tower-cli documents a manual environment's work directory as an S3 bucket.
FSX_WORK_DIR_REFUSED = (
    "an s3://BUCKET[/PREFIX] work directory: FSx cannot hold it (open-source Nextflow's awsbatch executor "
    "refuses a work directory outside S3, the Nextflow head job's container does not mount FSx, and the "
    "platform documents a manually registered environment's work directory as S3 only); keep work_dir in "
    "S3 and mount the file system for data with fsx.mount_path, which every task sees"
)


def _check_work_dir(value: str) -> str:
    if value.startswith("s3://"):
        rest = value[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        problem = bucket_name_problem(bucket)
        if problem:
            raise expected(f"s3://BUCKET[/PREFIX] with {problem}")
        if "//" in prefix or not KEY_PREFIX_RE.fullmatch(prefix) or _has_dot_segment(prefix):
            raise expected(
                "s3://BUCKET[/PREFIX] with a prefix of letters, digits and ! _ . * ' ( ) / = - (no '//', '.' or '..' parts)"
            )
        return value
    if value.startswith("/"):
        raise expected(FSX_WORK_DIR_REFUSED)
    raise expected("s3://BUCKET[/PREFIX]")


WorkDir = Annotated[str, AfterValidator(_check_work_dir)]

def text_problem(value: str) -> str | None:
    """Free text must be NFC-normalised: Terraform normalises every string to NFC, so any other
    form would not reach AWS byte-exact."""
    if unicodedata.normalize("NFC", value) != value:
        return "text in Unicode NFC form, each accented letter as one character (Terraform would normalise it, changing the bytes AWS gets)"
    return None


def _tag_chars_ok(text: str) -> bool:
    # AWS's tag pattern, which every tagged service here accepts (IAM included), is
    # [\p{L}\p{Z}\p{N}_.:/=+\-@]*. Only the space separator is allowed of \p{Z}: other
    # separators (no-break and ideographic spaces) are rejected by IAM.
    for ch in text:
        if ch in "_.:/=+-@ ":
            continue
        if unicodedata.category(ch)[0] in "LN":
            continue
        return False
    return True


def _check_tag_key(key: str) -> str:
    if not 1 <= len(key) <= 128:
        raise expected("a tag key of 1 to 128 characters")
    if key.lower().startswith("aws:"):
        raise expected("a tag key that does not start with 'aws:' (reserved by AWS)")
    problem = text_problem(key)
    if problem:
        raise expected(problem)
    if not _tag_chars_ok(key):
        raise expected("a tag key of letters, digits, spaces and _ . : / = + - @")
    return key


def _check_tag_value(value: str) -> str:
    if len(value) > 256:
        raise expected("a tag value of at most 256 characters")
    problem = text_problem(value)
    if problem:
        raise expected(problem)
    if not _tag_chars_ok(value):
        raise expected("a tag value of letters, digits, spaces and _ . : / = + - @")
    return value


TagKey = Annotated[str, AfterValidator(_check_tag_key)]
TagValue = Annotated[str, AfterValidator(_check_tag_value)]


# AWS allows 50 tags per resource: towergen's two default tags and a Name tag leave 47.
MAX_USER_TAGS = 47


def _check_tags(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_USER_TAGS:
        raise expected(f"at most {MAX_USER_TAGS} tags (AWS allows 50 per resource; towergen adds managed-by, "
                       "towergen-environment and, to some, a Name tag)")
    return value


QUEUE_NAME_RE = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
QueueName = Annotated[
    str,
    _pattern(QUEUE_NAME_RE, "an AWS Batch job queue name: up to 128 letters, digits, '-' and '_'"),
]
IamName = Annotated[
    str,
    _pattern(r"[A-Za-z0-9+=,.@_-]{1,64}", "an IAM name: 1 to 64 letters, digits and + = , . @ _ -"),
]


def _id(prefix: str, what: str) -> AfterValidator:
    return _pattern(prefix + r"-[0-9a-f]{8,17}", f"{what} id such as {prefix}-0123456789abcdef0")


VpcId = Annotated[str, _id("vpc", "a VPC")]
SubnetId = Annotated[str, _id("subnet", "a subnet")]
SecurityGroupId = Annotated[str, _id("sg", "a security group")]
AmiId = Annotated[str, _id("ami", "an AMI")]
InstanceType = Annotated[
    str,
    _pattern(
        r"optimal|default_x86_64|default_arm64|[a-z][a-z0-9-]*[0-9][a-z0-9-]*(\.[a-z0-9-]+)?",
        "an EC2 instance type or family such as m6i.xlarge or c6i, or 'optimal'",
    ),
]


# Accounts, roles and remote state (GitOps across accounts)
def _account_number(value: Any) -> Any:
    """An account id written without quotes is read by YAML as a number: take its 12 digits (it
    has no leading zero, which the reader refuses as ambiguous), so that the checks that need
    the account (the role's account) still run."""
    if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) == 12:
        return str(value)
    return value


AccountId = Annotated[
    str,
    BeforeValidator(_account_number, json_schema_input_type=str | int),
    _pattern(r"[0-9]{12}", 'an AWS account id: 12 digits (in quotes if it starts with 0), such as "123456789012"'),
]
ROLE_ARN_RE = r"arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):role/(?:[A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}"
RoleArn = Annotated[
    str,
    Field(max_length=2048),
    _pattern(ROLE_ARN_RE, "an IAM role ARN such as arn:aws:iam::123456789012:role/towergen-deploy"),
]
SessionName = Annotated[
    str, _pattern(r"[A-Za-z0-9+=,.@_-]{2,64}", "a session name: 2 to 64 letters, digits and + = , . @ _ -")
]
ExternalId = Annotated[
    str, _pattern(r"[A-Za-z0-9+=,.@:/_-]{2,1224}", "an external id: 2 to 1224 letters, digits and + = , . @ : / _ -")
]
DynamoDbTable = Annotated[
    str, _pattern(r"[A-Za-z0-9_.-]{3,255}", "a DynamoDB table name: 3 to 255 letters, digits, '_', '.' and '-'")
]
KmsKeyArn = Annotated[
    str,
    _pattern(
        r"arn:(aws|aws-cn|aws-us-gov):kms:[a-z0-9-]+:[0-9]{12}:(key/[0-9a-f-]{36}|key/mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]{1,250})",
        "a KMS key or alias ARN such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ),
]


def _bucket_name(value: Any) -> Any:
    """``s3://BUCKET`` names the bucket as every other bucket key does: the name alone is kept."""
    if isinstance(value, str) and value.startswith("s3://"):
        return value[len("s3://"):].rstrip("/") if "/" not in value[len("s3://"):].rstrip("/") else value
    return value


# A customer managed KMS key that IAM policies name: its key ARN, never an alias (IAM authorises
# the use of a key by its key ARN; an alias ARN in a policy's Resource matches no request).
KmsKeyArnOnly = Annotated[
    str,
    _pattern(
        r"arn:(aws|aws-cn|aws-us-gov):kms:[a-z0-9-]+:[0-9]{12}:key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})",
        "a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab "
        "(not an alias: IAM authorises a key by its key ARN)",
    ),
]
KMS_BUCKET_KEY = (
    "the customer managed KMS key the bucket encrypts with (SSE-KMS): readers may decrypt with it, writers may "
    "also generate data keys, only through S3 and only for this bucket"
)


def _check_state_bucket(value: str) -> str:
    if value.startswith("s3://"):
        raise expected("a bucket, as BUCKET or s3://BUCKET without a path (the key says where the state goes)")
    problem = bucket_name_problem(value)
    if problem:
        raise expected(problem)
    return value


def _check_state_key(value: str) -> str:
    if (
        not 1 <= len(value) <= 1024
        or not KEY_PREFIX_RE.fullmatch(value)
        or value.startswith("/")
        or value.endswith("/")
        or "//" in value
        or _has_dot_segment(value)
    ):
        raise expected(
            "an S3 object key of up to 1024 letters, digits and ! _ . * ' ( ) / = - "
            "(not starting or ending with '/', no '//', '.' or '..' parts)"
        )
    return value


StateBucket = Annotated[str, BeforeValidator(_bucket_name), AfterValidator(_check_state_bucket)]
StateKey = Annotated[str, AfterValidator(_check_state_key)]


# --- sections ------------------------------------------------------------------------------------


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# Seqera Cloud's access role, the principal its role credentials assume roles with (seqeralabs/docs
# platform-cloud/docs/compute-envs/aws-batch.mdx, "IAM role-based credential creation").
SEQERA_CLOUD_PRINCIPAL = "arn:aws:iam::161471496260:role/SeqeraPlatformCloudAccessRole"
IAM_PRINCIPAL_RE = r"arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(root|(user|role)(/[A-Za-z0-9+=,.@_-]+)+)"
EXTERNAL_ID_RE = r"[A-Za-z0-9+=,.@:/_-]{2,1224}"
EMAIL_RE = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"


class PlatformRole(Section):
    trusted_principal: Literal["seqera-cloud"] | None = Field(
        None,
        description="seqera-cloud: Seqera Cloud's documented access role may assume the role "
        f"({SEQERA_CLOUD_PRINCIPAL}); or give trusted_principal_arn",
    )
    trusted_principal_arn: Annotated[
        str, _pattern(IAM_PRINCIPAL_RE, "the ARN of an IAM principal such as arn:aws:iam::123456789012:role/NAME")
    ] | None = Field(
        None,
        description="any other platform's AWS principal allowed to assume the role (an Enterprise installation's; "
        "shown by the platform); instead of trusted_principal",
    )
    external_id: Annotated[
        str, _pattern(EXTERNAL_ID_RE, "an External ID of 2 to 1224 letters, digits and + = , . @ : / _ -")
    ] = Field(description="the External ID the platform generated for these credentials (not a secret)")


class Credentials(Section):
    type: Literal["user", "role"] = Field(
        "user",
        description="user: an IAM user with an access key (secret as a sensitive output); role: a role the "
        "platform assumes with an External ID (no long-lived secret)",
    )
    role: PlatformRole | None = Field(None, description="type: role only: who may assume the role, and the External ID")
    ses_from_address: Annotated[str, _pattern(EMAIL_RE, "an e-mail address such as tower@example.org")] | None = Field(
        None,
        description="the Nextflow head job may send the pipeline's notification mail through SES only from this "
        "address (ses:FromAddress; nextflow.config's mail.from); absent: no SES",
    )
    aws_managed_policies: bool | None = Field(
        None,
        description="launch policy: also attach the platform's documented AWS managed read-only policies "
        "(AmazonS3ReadOnlyAccess reads every bucket of the account). Default: true in manual mode",
    )
    pipeline_secrets: bool = Field(
        False,
        description="the platform's pipeline secrets: it may create, describe and delete tower-* secrets in "
        "Secrets Manager, and tasks read them through a Batch execution role (NAME-execution, the platform's "
        "executionRole) that may read only tower-* secrets",
    )
    create_user: bool = Field(True, description="create the IAM user the platform uses (false: policies only)")
    user_name: IamName = Field(
        "tower", description="IAM user name; the environment name is prefixed (NAME-USER_NAME)"
    )
    policy: Literal["forge", "launch"] | None = Field(
        None,
        description="launch (default): the platform runs pipelines on the queues; forge: it may also update, "
        "disable and delete this environment's queues and compute environments (which Terraform owns; the "
        "platform never manages the manual environment towergen registers, so render warns)",
    )


class Lifecycle(Section):
    expire_days: Annotated[int, Field(ge=0, le=36500)] | None = Field(
        30, description="delete work files after this many days; null or 0 disables the rule"
    )
    prefix: Annotated[str, Field(max_length=1024)] | None = Field(
        None, description="objects the rule applies to; default: the work_dir prefix, \"\" = whole bucket"
    )
    abort_incomplete_multipart_days: Annotated[int, Field(ge=0, le=36500)] | None = Field(
        7, description="abort unfinished multipart uploads after this many days; null or 0 disables"
    )


def _bucket_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"bucket": value}
    if not isinstance(value, dict):
        raise expected("s3://BUCKET, or a mapping with bucket and access")
    return value


def _null_is_empty_list(value: Any) -> Any:
    return [] if value is None else value


def _null_is_empty(value: Any) -> Any:
    """A section written as a key with nothing under it (every line commented out) is empty."""
    return {} if value is None else value


class AllowedBucket(Section):
    bucket: S3BucketUrl = Field(description="s3://BUCKET (or the name alone)")
    access: Literal["read", "read-write"] = Field("read-write", description="read or read-write")
    kms_key_arn: KmsKeyArnOnly | None = Field(None, description=KMS_BUCKET_KEY)

    @property
    def name(self) -> str:
        name = bucket_of(self.bucket)
        assert name is not None  # the field is an s3:// URL
        return name


AllowedBucketItem = Annotated[
    AllowedBucket, BeforeValidator(_bucket_shorthand, json_schema_input_type=str | AllowedBucket)
]


class ExternalBucket(Section):
    bucket: S3BucketUrl = Field(description="s3://BUCKET, such as s3://ngi-igenomes")
    kms_key_arn: KmsKeyArnOnly | None = Field(None, description=KMS_BUCKET_KEY + " (decrypt only); its key policy must allow this account")

    @property
    def name(self) -> str:
        name = bucket_of(self.bucket)
        assert name is not None  # the field is an s3:// URL
        return name


ExternalBucketItem = Annotated[
    ExternalBucket, BeforeValidator(_bucket_shorthand, json_schema_input_type=str | ExternalBucket)
]


class Storage(Section):
    create_bucket: bool = Field(
        True, description="create the work_dir bucket (false: it exists already and is read by a data source)"
    )
    lifecycle: Lifecycle = Field(default_factory=Lifecycle, description="work bucket lifecycle rule")
    allowed_buckets: Annotated[list[AllowedBucketItem], BeforeValidator(_null_is_empty_list)] = Field(
        default_factory=list,
        description="more buckets the pipelines may use: s3://BUCKET (read-write) or {bucket, access}",
    )
    force_destroy: bool = Field(
        False,
        description="let terraform destroy delete every object in the work bucket (whatever compute.dispose says)",
    )
    external_buckets: Annotated[list[ExternalBucketItem], BeforeValidator(_null_is_empty_list)] = Field(
        default_factory=list,
        description="read-only buckets outside this account: public data such as s3://ngi-igenomes (iGenomes) or "
        "another account's bucket shared with this one; the head job and the tasks may list and read them, "
        "nothing else (the platform gets none). s3://BUCKET or {bucket, kms_key_arn}",
    )
    kms_key_arn: KmsKeyArnOnly | None = Field(
        None,
        description="create_bucket: false only: the customer managed KMS key the existing work bucket encrypts "
        "with (SSE-KMS); towergen's own bucket uses SSE-S3",
    )


def _autoscale_shorthand(value: Any) -> Any:
    if isinstance(value, bool):
        return {"enabled": value}
    if not isinstance(value, dict):
        raise expected("true, false, or a mapping with enabled, mount_path, initial_size_gib, max_size_gib")
    return value  # a mapping asks for EBS autoscale unless it says enabled: false


def _no_autoscale() -> EbsAutoscale:
    """EBS autoscale is opt-in (legacy): without the key, instances use their boot disk."""
    return EbsAutoscale(enabled=False)


class EbsAutoscale(Section):
    enabled: bool = Field(
        True, description="install amazon-ebs-autoscale on every instance (a mapping without enabled means true)"
    )
    mount_path: AbsPath = Field("/scratch", description="where the autoscaled volume is mounted")
    initial_size_gib: Annotated[int, Field(ge=1, le=16384)] = Field(200, description="first volume, GiB")
    max_size_gib: Annotated[int, Field(ge=1, le=65536)] = Field(
        1500, description="per instance, all volumes together, GiB"
    )


class AwsCli(Section):
    url: Annotated[
        str,
        _pattern(r"https://[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9._~/%+=-]*\.tar\.gz",
                 "an https:// URL of a .tar.gz (letters, digits and . _ ~ / % + = -)"),
    ] = Field(description="where instances download the bundle (a .tar.gz that unpacks at / to /home/ec2-user/miniconda)")
    sha256: Annotated[str, _pattern(r"[0-9a-f]{64}", "a sha256 of 64 lowercase hex digits")] = Field(
        description="the bundle's sha256: instances refuse any other bytes"
    )


class HeadQueue(Section):
    max_cpus: Annotated[int, Field(ge=1, le=10000)] = Field(
        8, description="vCPUs of the head queue's own on-demand CPU compute environment (always with spot; with "
        "on-demand, setting head_queue asks for one: a GPU environment's head job then runs on a CPU instance)"
    )


class Network(Section):
    vpc_id: VpcId | None = Field(None, description="default: the default VPC (or the subnets' VPC)")
    subnet_ids: Annotated[list[SubnetId], BeforeValidator(_null_is_empty_list)] = Field(
        default_factory=list, description="default: every subnet of the VPC"
    )
    security_group_ids: Annotated[list[SecurityGroupId], BeforeValidator(_null_is_empty_list)] = Field(
        default_factory=list, description="default: the VPC's default security group"
    )


AllocationStrategy = Literal[
    "BEST_FIT", "BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"
]


class Compute(Section):
    provisioning: Literal["spot", "on-demand"] = Field("spot", description="spot or on-demand")
    max_cpus: Annotated[int, Field(ge=1, le=100000)] = Field(64, description="Max CPUs of the work compute environment")
    min_cpus: Annotated[int, Field(ge=0, le=100000)] = Field(
        0, description="Min CPUs; more than 0 keeps instances (and costs) running"
    )
    cost_percentage: Annotated[int, Field(ge=1, le=100)] = Field(
        100, description="spot only: highest spot price as a percentage of on-demand"
    )
    allocation_strategy: AllocationStrategy | None = Field(
        None,
        description="default: SPOT_PRICE_CAPACITY_OPTIMIZED (spot), BEST_FIT_PROGRESSIVE (on-demand)",
    )
    instance_types: Annotated[
        list[InstanceType], Field(min_length=1, max_length=20)
    ] = Field(default_factory=lambda: ["optimal"], description="1 to 20 instance types or families")
    gpu: bool = Field(False, description="use the GPU (NVIDIA) ECS AMI unless ami_id is set")
    ami_id: AmiId | None = Field(None, description="default: the ECS-optimized Amazon Linux 2023 AMI (SSM)")
    boot_disk_gib: Annotated[int, Field(ge=30, le=16384)] = Field(50, description="root volume size, GiB")
    ebs_autoscale: Annotated[
        EbsAutoscale, BeforeValidator(_autoscale_shorthand, json_schema_input_type=bool | EbsAutoscale)
    ] = Field(
        default_factory=_no_autoscale,
        description="amazon-ebs-autoscale (legacy, opt-in; default: off); true/false also accepted",
    )
    fusion: bool = Field(False, description="Fusion v2 + Wave: buckets mounted at /fusion/s3/BUCKET")
    ebs_kms_key_arn: KmsKeyArnOnly | None = Field(
        None,
        description="a customer managed KMS key for the instances' volumes (the boot disk; with ebs_autoscale, "
        "the account's default EBS key, which amazon-ebs-autoscale encrypts with): the instance role gets what "
        "creating and attaching a volume needs, through EC2 only; the key policy must let the service-linked "
        "roles that launch instances use it",
    )
    aws_cli: AwsCli | None = Field(
        None,
        description="a self-contained AWS CLI bundle to install instead of towergen's pinned AWS CLI v2 "
        "(the platform's miniconda-awscli tar.gz, unpacked at /)",
    )
    head_queue: Annotated[HeadQueue, BeforeValidator(_null_is_empty)] = Field(default_factory=HeadQueue, description="the Nextflow head job's queue")
    network: Annotated[Network, BeforeValidator(_null_is_empty)] = Field(default_factory=Network, description="VPC, subnets and security groups")
    dispose: bool = Field(True, description="false protects the bucket and file system from destroy")


FsxDeployment = Literal["SCRATCH_1", "SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"]


class FsxCreate(Section):
    storage_gib: Annotated[int, Field(ge=1200, le=2_400_000)] = Field(
        1200, description="1200 or a multiple of 2400 (SCRATCH_1: 1200, 2400 or a multiple of 3600)"
    )
    deployment_type: FsxDeployment = Field("SCRATCH_2", description="FSx for Lustre deployment type")
    per_unit_storage_throughput: Literal[50, 100, 125, 200, 250, 500, 1000] | None = Field(
        None, description="PERSISTENT types only, MB/s/TiB; default 200 (PERSISTENT_1), 250 (PERSISTENT_2)"
    )


class Fsx(Section):
    mount_path: AbsPath = Field("/fsx", description="where instances mount the file system")
    create: FsxCreate | None = Field(None, description="create a new FSx for Lustre file system")
    dns_name: Annotated[
        str,
        _pattern(
            r"fs-[0-9a-f]{8,17}\.fsx\.[a-z0-9-]+\.amazonaws\.com(\.cn)?",
            "an FSx DNS name such as fs-0123456789abcdef0.fsx.eu-west-1.amazonaws.com",
        ),
    ] | None = Field(None, description="an existing file system's DNS name (instead of create)")
    mount_name: Annotated[str, _pattern(r"[A-Za-z0-9]{3,8}", "an FSx mount name such as abcdefgh")] | None = Field(
        None, description="the existing file system's mount name"
    )


class Manual(Section):
    head_queue: QueueName = Field(description="existing queue for the Nextflow head job")
    compute_queue: QueueName = Field(description="existing queue for the pipeline's tasks")


class HeadJob(Section):
    cpus: Annotated[int, Field(ge=1, le=192)] = Field(1, description="vCPUs of the Nextflow head job")
    memory_mib: Annotated[int, Field(ge=512, le=1_572_864)] = Field(4096, description="memory of the head job, MiB")



class AssumeRole(Section):
    role_arn: RoleArn = Field(description="the IAM role Terraform assumes to manage this environment")
    external_id: ExternalId | None = Field(None, description="the external id the role's trust policy asks for")
    session_name: SessionName | None = Field(None, description="the session name (shows in CloudTrail)")


class DynamoDbLock(Section):
    dynamodb_table: DynamoDbTable = Field(description="an existing DynamoDB table with a string key LockID")


def _lock_shorthand(value: Any) -> Any:
    if value == "lockfile":
        return None
    if value is None or isinstance(value, dict):
        return value
    raise expected("lockfile, or a mapping with dynamodb_table")


class Backend(Section):
    bucket: StateBucket = Field(description="the S3 bucket that holds the state (it must exist: modules/state-bucket)")
    region: Region | None = Field(None, description="the bucket's region; default: the environment's region")
    key: StateKey | None = Field(None, description="the state object's key; default: towergen/NAME/terraform.tfstate")
    lock: Annotated[
        DynamoDbLock | None,
        BeforeValidator(_lock_shorthand, json_schema_input_type=Literal["lockfile"] | DynamoDbLock | None),
    ] = Field(
        None,
        description="lockfile (default): Terraform's own S3 lock file (Terraform >= 1.10); "
        "or {dynamodb_table: NAME}: a DynamoDB lock table",
    )
    kms_key_id: KmsKeyArn | None = Field(None, description="encrypt the state with this KMS key (default: SSE-S3)")

    @property
    def lockfile(self) -> bool:
        return self.lock is None


# --- the platform: registering the environment with the Seqera provider -------------------------

# Names the platform (and the seqeralabs/seqera provider, v0.42.0) accepts: a compute environment
# name matches ^[a-zA-Z0-9_-]+$ (at most 100), a credential name the same in 2 to 99; label names
# and values are 2 to 39 letters and digits joined by single '-' or '_', and a value may instead be
# one of the platform's dynamic values (resource labels only).
PLATFORM_NAME_RE = r"[A-Za-z0-9_-]{2,99}"
LABEL_NAME_RE = r"[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*"
LABEL_VALUE_RE = r"[A-Za-z0-9](?:[_-]?[A-Za-z0-9]){1,38}"
LABEL_DYNAMIC_VALUES = ("${sessionId}", "${workflowId}", "${userName}")
WORKSPACE_RE = r"[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9_-]*"
SERVER_URL_RE = r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*"


def label_name_ok(name: str) -> bool:
    return 2 <= len(name) <= 39 and re.fullmatch(LABEL_NAME_RE, name) is not None


def label_value_ok(value: str) -> bool:
    return value in LABEL_DYNAMIC_VALUES or re.fullmatch(LABEL_VALUE_RE, value) is not None


def _check_label_name(value: str) -> str:
    if not label_name_ok(value):
        raise expected("a label name of 2 to 39 letters and digits, joined by single '-' or '_'")
    return value


def _check_label_value(value: str) -> str:
    if not label_value_ok(value):
        raise expected(
            "a label value of 2 to 39 letters and digits, joined by single '-' or '_', "
            "or one of ${sessionId}, ${workflowId}, ${userName}"
        )
    return value


def _check_workspace(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and re.fullmatch(WORKSPACE_RE, value):
        return value
    raise expected(
        "ORGANIZATION/WORKSPACE (the platform's names: letters, digits, '-' and '_'), or the workspace's numeric id"
    )


class Platform(Section):
    workspace: Annotated[
        str | int, BeforeValidator(_check_workspace, json_schema_input_type=str | int)
    ] = Field(
        description="the platform workspace to register in: ORGANIZATION/WORKSPACE (looked up by name, as tw "
        "--workspace takes it) or the workspace's numeric id"
    )
    name: Annotated[
        str, _pattern(PLATFORM_NAME_RE, "2 to 99 letters, digits, '-' and '_' (the platform's names)")
    ] | None = Field(None, description="the compute environment's name in the platform, and its credentials'; default: name")
    credentials: Literal["role", "keys"] = Field(
        "role",
        description="role: the platform assumes the role towergen creates, with the External ID the platform "
        "generates (needs account_id; no long-lived secret); keys: the access key of the IAM user towergen creates",
    )
    trusted_principal_arn: Annotated[
        str, _pattern(IAM_PRINCIPAL_RE, "the ARN of an IAM principal such as arn:aws:iam::123456789012:role/NAME")
    ] | None = Field(
        None,
        description="credentials role: the platform's AWS principal the role trusts; default: Seqera Cloud's "
        f"({SEQERA_CLOUD_PRINCIPAL}). Required with server_url",
    )
    labels: dict[
        Annotated[str, AfterValidator(_check_label_name)], Annotated[str, AfterValidator(_check_label_value)]
    ] | None = Field(
        None,
        description="the platform's resource labels of the environment, name: value; default: the tags that are "
        "valid labels (the others are left out, with a warning); {} = none",
    )
    server_url: Annotated[
        str, _pattern(SERVER_URL_RE, "an https:// URL such as https://platform.example.org/api (no trailing '/')")
    ] | None = Field(
        None, description="a self-hosted platform's API URL (with /api); default: Seqera Cloud, https://api.cloud.seqera.io"
    )


Tags = Annotated[dict[TagKey, TagValue], AfterValidator(_check_tags)]


def _whole_number(value: Any) -> Any:
    if isinstance(value, float):
        raise expected("the whole number 1")
    return value


class Environment(Section):
    """One compute environment: what the platform's Batch Forge (or Manual) form asks for."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        title="towergen environment file (format version 1)",
    )

    version: Annotated[Literal[1], BeforeValidator(_whole_number)] = Field(description="format version: 1")
    name: EnvName = Field(description="prefixes every AWS resource name")
    region: Region = Field(description="an AWS region code")
    work_dir: WorkDir = Field(
        description="s3://BUCKET[/PREFIX], the pipelines' work directory in S3 (FSx is for data: fsx.mount_path)"
    )
    mode: Literal["forge", "manual"] = Field("forge", description="forge: create everything; manual: existing queues")
    tags: Annotated[Tags, BeforeValidator(_null_is_empty)] = Field(default_factory=dict, description="added to every resource that takes tags")
    credentials: Annotated[Credentials, BeforeValidator(_null_is_empty)] = Field(default_factory=Credentials, description="the platform's IAM user")
    storage: Annotated[Storage, BeforeValidator(_null_is_empty)] = Field(default_factory=Storage, description="work bucket and allowed buckets")
    compute: Annotated[Compute, BeforeValidator(_null_is_empty)] = Field(default_factory=Compute, description="forge mode only")
    fsx: Fsx | None = Field(None, description="FSx for Lustre; absent = none")
    manual: Manual | None = Field(None, description="manual mode only: the existing queues")
    head_job: Annotated[HeadJob, BeforeValidator(_null_is_empty)] = Field(default_factory=HeadJob, description="the platform's head job resources")
    account_id: AccountId | None = Field(
        None,
        description="the AWS account: Terraform refuses any other (allowed_account_ids), and the rendered files "
        "name the job roles' ARNs; absent: Terraform outputs carry them",
    )
    assume_role: AssumeRole | None = Field(None, description="a role Terraform assumes to manage this environment")
    backend: Backend | None = Field(None, description="S3 remote state; absent = towergen writes no backend.tf")
    platform: Platform | None = Field(
        None,
        description="register the environment in the Seqera Platform in the same apply (seqeralabs/seqera "
        "provider, platform.tf); absent = towergen renders no platform resources",
    )
