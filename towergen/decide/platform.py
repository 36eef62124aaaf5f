"""Registering the environment in the Seqera Platform (``platform:``): what the seqeralabs/seqera
provider is given, decided once.

The compute environment's fields themselves are not decided here: they are the fields of the
platform's import file (``platform-compute-env.json``), which the renderer builds once and from
which it also writes the provider's ``config`` (``towergen.renderer.platform``). What is decided
here is everything around them: the workspace, the names, the credential and the role it names,
and which of the environment's tags can be labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..spec.model import SEQERA_CLOUD_PRINCIPAL, Environment, label_name_ok, label_value_ok
from ..spec.regions import REGIONS

# Seqera Cloud's API (the provider's default server_url; the principal it assumes customer roles
# with is spec.model.SEQERA_CLOUD_PRINCIPAL).
SEQERA_CLOUD_API = "https://api.cloud.seqera.io"
# The provider release the rendered file pins, and what it accepts: a role ARN only in the aws
# partition (^arn:aws:iam::[0-9]{12}:role/.+$), a work_dir only as s3://BUCKET[/PREFIX].
PROVIDER_SOURCE = "seqeralabs/seqera"
PROVIDER_VERSION = "~> 0.42.0"
ROLE_PARTITIONS = ("aws",)
# Where the provider reads the platform's token (its bearer_auth argument, which towergen never
# writes: a token never goes into a file).
TOKEN_ENV = "TOWER_ACCESS_TOKEN"
# Write-only arguments (the credential's secret_key) need Terraform 1.11.
REQUIRED_TERRAFORM_WRITE_ONLY = ">= 1.11.0"


@dataclass(frozen=True)
class PlatformPlan:
    """What platform.tf registers for one environment."""

    name: str  # the compute environment's and the credential's name in the platform
    workspace_id: int | None  # the workspace by id, or
    organization: str | None  # by organisation and workspace name (looked up at plan time)
    workspace: str | None
    credentials: Literal["role", "keys"]
    role_arn: str | None  # role: the role the credential names, known before it exists
    trusted_principal_arn: str | None  # role: the platform's principal the role trusts
    labels: tuple[tuple[str, str], ...]  # (name, value), the platform's resource labels
    unlabelled_tags: tuple[str, ...]  # tags that cannot be labels (the advice names them)
    server_url: str | None  # None: the provider's default, Seqera Cloud

    @property
    def role(self) -> bool:
        return self.credentials == "role"


def platform_role(env: Environment) -> bool:
    """The platform signs in with the role towergen creates, trusting the platform's principal and
    the External ID the platform generates (``platform.credentials: role``)."""
    return env.platform is not None and env.platform.credentials == "role"


def credentials_type(env: Environment) -> Literal["user", "role"]:
    """How the platform signs in to AWS: ``platform.credentials`` decides when there is a platform
    section (role, or keys of the IAM user), else ``credentials.type``."""
    if env.platform is not None:
        return "role" if env.platform.credentials == "role" else "user"
    return env.credentials.type


def trusted_principal(env: Environment) -> str | None:
    """The principal the platform role trusts: as given, else Seqera Cloud's (a self-hosted
    platform has its own: the rules ask for it with server_url)."""
    p = env.platform
    if p is None or p.credentials != "role":
        return None
    return p.trusted_principal_arn or (SEQERA_CLOUD_PRINCIPAL if p.server_url is None else None)


def label_of_tag(key: str, value: str) -> bool:
    """Whether a tag can be one of the platform's labels as it is."""
    return label_name_ok(key) and label_value_ok(value)


def platform_plan(env: Environment, role_arns: dict[str, str] | None) -> PlatformPlan | None:
    """What platform.tf registers (None without a platform section)."""
    p = env.platform
    if p is None:
        return None
    if p.labels is not None:
        labels = tuple(p.labels.items())
        unlabelled: tuple[str, ...] = ()
    else:
        labels = tuple((k, v) for k, v in env.tags.items() if label_of_tag(k, v))
        unlabelled = tuple(k for k, v in env.tags.items() if not label_of_tag(k, v))
    by_id = isinstance(p.workspace, int)
    organization, _, workspace = ("", "", "") if isinstance(p.workspace, int) else p.workspace.partition("/")
    role = p.credentials == "role"
    return PlatformPlan(
        name=p.name or env.name,
        workspace_id=p.workspace if isinstance(p.workspace, int) else None,
        organization=None if by_id else organization,
        workspace=None if by_id else workspace,
        credentials=p.credentials,
        role_arn=role_arns["platform"] if role and role_arns else None,
        trusted_principal_arn=trusted_principal(env),
        labels=labels,
        unlabelled_tags=unlabelled,
        server_url=p.server_url,
    )


def role_partition_ok(env: Environment) -> bool:
    """The provider takes role ARNs of the aws partition only (not aws-cn, aws-us-gov)."""
    return REGIONS[env.region] in ROLE_PARTITIONS
