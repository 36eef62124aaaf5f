"""Rules that relate several keys of an environment file: the combinations towergen (or AWS)
refuses. What deserves a warning in a valid file is ``advice.py``.

Each rule names the keys it reads (dotted paths), so that it is not applied to a key the user
got wrong in the first place: that key's own error is reported instead, and every other rule
still runs, so that one pass reports every problem in the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..decide.platform import role_partition_ok, trusted_principal
from ..decide.resolved import (
    FSX_THROUGHPUT,
    FUSION_ROOT,
    iam_user_name,
    is_spot,
    state_region,
    user_policy,
    work_bucket,
)
from ..decide.resolved import under as _under
from ..errors import Problem
from ..spec import instances
from ..spec.describe import describe
from ..spec.model import ROLE_ARN_RE, Environment
from ..spec.reader import Loc
from ..spec.regions import REGIONS
from .source import Source

Finding = tuple[frozenset[Loc], Problem]
Error = Callable[..., None]

# IAM limits a user name to 64 characters (CreateUser, UserName).
IAM_USER_NAME_MAX = 64


def paths(reads: str) -> frozenset[Loc]:
    """The key paths a rule reads, from their dotted names."""
    return frozenset(tuple(p.split(".")) for p in reads.split())


def check(env: Environment, src: Source) -> list[Finding]:
    """The cross-key errors of a field-valid environment (or of the best-effort model of one)."""
    errors: list[Finding] = []

    def error(reads: str, loc: Loc, message: str, at: Loc | None = None) -> None:
        errors.append((paths(reads), src.problem(loc, message, at=at)))

    # --- mode --------------------------------------------------------------------------------
    if env.mode == "manual":
        if env.manual is None:
            error("mode manual", ("manual",), "expected head_queue and compute_queue for mode: manual, found nothing", at=("mode",))
        if src.has("compute"):
            error("mode", ("compute",), "expected no compute section in mode: manual (the queues exist already), found one")
    elif src.has("manual"):
        error("mode", ("manual",), "expected no manual section in mode: forge (set mode: manual to use existing queues), found one")

    # --- the work bucket and FSx ---------------------------------------------------------------
    fsx = env.fsx
    if not env.storage.create_bucket and src.has("storage", "lifecycle"):
        error("storage.create_bucket storage.lifecycle", ("storage", "lifecycle"), "expected no lifecycle rule on a bucket towergen does not create (create_bucket: false): it would replace the bucket's own rules; found one")

    if fsx is not None:
        if env.mode == "manual":
            for key in ("create", "dns_name", "mount_name"):
                if src.has("fsx", key):
                    error("mode", ("fsx", key), "expected only fsx.mount_path in mode: manual (the existing compute environment mounts the file system), found " + key)
        else:
            if fsx.create is not None and (fsx.dns_name or fsx.mount_name):
                error("mode fsx", ("fsx", "create"), "expected either create or dns_name + mount_name, found both")
            elif fsx.create is None and not (fsx.dns_name and fsx.mount_name):
                missing = "mount_name" if fsx.dns_name else "dns_name" if fsx.mount_name else "create, or dns_name + mount_name"
                error("mode fsx", ("fsx",), f"expected create, or dns_name and mount_name of an existing file system; {missing} is missing")
            if fsx.dns_name and f".fsx.{env.region}." not in fsx.dns_name:
                error("region fsx.dns_name", ("fsx", "dns_name"), f"expected a file system in {env.region} (the environment's region), found {describe(fsx.dns_name)}")
        if fsx.create is not None:
            _check_fsx_create(env, error)
        if env.mode == "forge":
            c = env.compute
            if c.ebs_autoscale.enabled:
                auto = c.ebs_autoscale.mount_path
                if _under(auto, fsx.mount_path) or _under(fsx.mount_path, auto):
                    error("mode fsx.mount_path compute.ebs_autoscale", ("fsx", "mount_path"), f"expected a mount path apart from compute.ebs_autoscale.mount_path ({auto}), found {describe(fsx.mount_path)}")
            if c.fusion and (_under(fsx.mount_path, FUSION_ROOT) or _under(FUSION_ROOT, fsx.mount_path)):
                error("mode fsx.mount_path compute.fusion", ("fsx", "mount_path"), f"expected a mount path apart from {FUSION_ROOT} (Fusion mounts buckets there), found {describe(fsx.mount_path)}")

    # --- lists without repeats (reported at the repeat) --------------------------------------------
    _no_repeats(src, error, ("storage", "allowed_buckets"), [b.name for b in env.storage.allowed_buckets])
    _no_repeats(src, error, ("storage", "external_buckets"), [b.name for b in env.storage.external_buckets])
    if env.mode == "forge":
        c = env.compute
        _no_repeats(src, error, ("compute", "instance_types"), list(c.instance_types))
        _check_instance_types(env, error)
        _no_repeats(src, error, ("compute", "network", "subnet_ids"), list(c.network.subnet_ids))
        _no_repeats(src, error, ("compute", "network", "security_group_ids"), list(c.network.security_group_ids))

    # --- buckets -------------------------------------------------------------------------------
    for i, item in enumerate(env.storage.allowed_buckets):
        if work_bucket(env) and item.name == work_bucket(env) and item.access == "read":
            error("work_dir storage.allowed_buckets", ("storage", "allowed_buckets", i), "expected read-write access for the work_dir bucket (it is always added read-write), found access: read")

    # --- IAM -------------------------------------------------------------------------------------
    if env.mode == "manual" and env.credentials.policy == "forge":
        error("mode credentials.policy", ("credentials", "policy"), "expected launch in mode: manual (there are no environment resources to manage), found \"forge\"")
    if len(iam_user_name(env)) > IAM_USER_NAME_MAX:
        room = IAM_USER_NAME_MAX - len(env.name) - 1
        error("name credentials.user_name", ("credentials", "user_name"), f"expected at most {room} characters (the IAM user {env.name}-USER_NAME is limited to {IAM_USER_NAME_MAX}), found {len(env.credentials.user_name)} characters")

    # --- compute -------------------------------------------------------------------------------
    if env.mode == "forge":
        c = env.compute
        spot = is_spot(env)
        if c.min_cpus > c.max_cpus:
            error("mode compute.min_cpus compute.max_cpus", ("compute", "min_cpus"), f"expected at most max_cpus ({c.max_cpus}), found {c.min_cpus}")
        if not spot and src.has("compute", "cost_percentage"):
            error("mode compute.provisioning compute.cost_percentage", ("compute", "cost_percentage"), "expected no cost_percentage with provisioning: on-demand (it caps spot prices), found one")
        if not spot and c.allocation_strategy and c.allocation_strategy.startswith("SPOT_"):
            error("mode compute.provisioning compute.allocation_strategy", ("compute", "allocation_strategy"), f"expected BEST_FIT or BEST_FIT_PROGRESSIVE with provisioning: on-demand, found {describe(c.allocation_strategy)}")
        scaled = c.ebs_autoscale
        if scaled.enabled and scaled.initial_size_gib > scaled.max_size_gib:
            error("mode compute.ebs_autoscale", ("compute", "ebs_autoscale", "initial_size_gib"), f"expected at most max_size_gib ({scaled.max_size_gib}), found {scaled.initial_size_gib}")
        if scaled.enabled and c.fusion and (_under(scaled.mount_path, FUSION_ROOT) or _under(FUSION_ROOT, scaled.mount_path)):
            error("mode compute.ebs_autoscale compute.fusion", ("compute", "ebs_autoscale", "mount_path"), f"expected a mount path apart from {FUSION_ROOT} (Fusion mounts buckets there), found {describe(scaled.mount_path)}")

    _check_credentials(env, src, error)
    _check_platform(env, src, error)
    _check_storage(env, error)
    _check_accounts(env, error)
    return errors


def _check_credentials(env: Environment, src: Source, error: Error) -> None:
    """The platform's credentials: a role needs its trust; a user's keys do not apply to a role."""
    cred = env.credentials
    if cred.type == "role":
        if cred.role is None:
            if env.platform is None:  # with platform: see _check_platform
                error("credentials.type credentials.role", ("credentials",), "expected credentials.role (trusted_principal or trusted_principal_arn, and external_id) with type: role, found none", at=("credentials", "type"))
        elif cred.role.trusted_principal is None and cred.role.trusted_principal_arn is None:
            error("credentials.role", ("credentials", "role"), "expected trusted_principal: seqera-cloud (Seqera Cloud) or trusted_principal_arn (your platform's principal), found neither")
        elif cred.role.trusted_principal is not None and cred.role.trusted_principal_arn is not None:
            error("credentials.role", ("credentials", "role", "trusted_principal_arn"), "expected either trusted_principal or trusted_principal_arn (the one principal that may assume the role), found both")
        elif cred.role.trusted_principal == "seqera-cloud" and REGIONS[env.region] != "aws":
            error("region credentials.role.trusted_principal", ("credentials", "role", "trusted_principal"), f"expected trusted_principal_arn in the {REGIONS[env.region]} partition (Seqera Cloud's role is in the aws partition, which cannot assume roles in region {env.region}), found seqera-cloud")
        for key in ("create_user", "user_name"):
            if src.has("credentials", key):
                error("credentials.type", ("credentials", key), f"expected no {key} with type: role (the platform assumes a role; there is no user), found one")
    elif cred.role is not None:
        error("credentials.type credentials.role", ("credentials", "role"), "expected no role with type: user (set type: role to let the platform assume a role), found one")
    if cred.aws_managed_policies and user_policy(env) != "launch":
        error("mode credentials.policy credentials.aws_managed_policies", ("credentials", "aws_managed_policies"), "expected aws_managed_policies only with the launch policy (they are the platform's documented launch setup), found true")


def _check_platform(env: Environment, src: Source, error: Error) -> None:
    """Registering in the platform: what the seqera provider accepts, and one source for the
    platform's credentials (platform.credentials decides; the credentials section must agree)."""
    p = env.platform
    if p is None:
        return
    if env.work_dir.endswith("/"):
        error("work_dir platform", ("work_dir",), f"expected a work_dir without a trailing '/' with platform: (the platform's provider refuses one), found {describe(env.work_dir)}")
    cred = env.credentials
    if p.credentials == "role":
        if env.account_id is None:
            error("account_id platform.credentials", ("platform", "credentials"), "expected account_id with credentials: role (the platform's credential names the role before it exists: arn:aws:iam::ACCOUNT_ID:role/NAME-platform), found none")
        if not role_partition_ok(env):
            error("region platform.credentials", ("platform", "credentials"), f"expected keys in region {env.region} (the platform's provider takes role ARNs of the aws partition only, not {REGIONS[env.region]}), found role")
        if trusted_principal(env) is None:
            error("platform.server_url platform.trusted_principal_arn", ("platform", "trusted_principal_arn"), "expected trusted_principal_arn with server_url and credentials: role (a self-hosted platform assumes roles with its own AWS principal), found none", at=("platform", "server_url"))
        if src.has("credentials", "type") and cred.type != "role":
            error("credentials.type platform.credentials", ("credentials", "type"), f"expected role, or no type, with platform.credentials: role (the platform assumes the role towergen creates), found {describe(cred.type)}")
        if cred.role is not None:
            error("credentials.role platform.credentials", ("credentials", "role"), "expected no credentials.role with platform.credentials: role (the platform generates the External ID and towergen writes the trust; platform.trusted_principal_arn names another principal), found one")
        if cred.type != "role":  # type: role says so already
            for key in ("create_user", "user_name"):
                if src.has("credentials", key):
                    error("credentials.type platform.credentials", ("credentials", key), f"expected no {key} with platform.credentials: role (the platform assumes a role; there is no user), found one")
    else:
        if cred.type != "user":
            error("credentials.type platform.credentials", ("credentials", "type"), f"expected user, or no type, with platform.credentials: keys (the platform signs in with the access key of the IAM user towergen creates), found {describe(cred.type)}")
        elif not cred.create_user:
            error("credentials.create_user platform.credentials", ("credentials", "create_user"), "expected create_user: true with platform.credentials: keys (the platform's credential is that user's access key), found false")
        if p.trusted_principal_arn is not None:
            error("platform.credentials platform.trusted_principal_arn", ("platform", "trusted_principal_arn"), "expected no trusted_principal_arn with credentials: keys (there is no role to trust anyone), found one")


def _check_accounts(env: Environment, error: Error) -> None:
    """The account, the role and the state fit together (the partition follows the region)."""
    partition = REGIONS[env.region]
    if env.assume_role is not None:
        matched = re.match(ROLE_ARN_RE, env.assume_role.role_arn)
        assert matched is not None  # the model checked the pattern
        role_partition, role_account = matched.groups()
        if role_partition != partition:
            error("region assume_role.role_arn", ("assume_role", "role_arn"), f"expected a role in the {partition} partition (region {env.region}), found one in {role_partition}")
        elif env.account_id is not None and role_account != env.account_id:
            error("account_id assume_role.role_arn", ("assume_role", "role_arn"), f"expected a role in account {env.account_id} (account_id: Terraform refuses to work in any other), found one in {role_account}")
    backend = env.backend
    if backend is not None and backend.kms_key_id is not None:
        region = state_region(env)
        assert region is not None
        kms_partition, kms_region = backend.kms_key_id.split(":")[1], backend.kms_key_id.split(":")[3]
        if (kms_partition, kms_region) != (REGIONS[region], region):
            error("region backend.region backend.kms_key_id", ("backend", "kms_key_id"), f"expected a KMS key in {region} (the state bucket's region), found one in {kms_region}")


def _check_storage(env: Environment, error: Error) -> None:
    """What destroy may delete; buckets outside the account; the keys that encrypt buckets and volumes."""
    storage = env.storage
    if storage.force_destroy and not (work_bucket(env) and storage.create_bucket):
        error("work_dir storage.create_bucket storage.force_destroy", ("storage", "force_destroy"), "expected force_destroy only on a work bucket towergen creates (it lets destroy delete its objects), found force_destroy: true")
    own = {work_bucket(env), *(b.name for b in storage.allowed_buckets)}
    for i, item in enumerate(storage.external_buckets):
        if item.name in own:
            error("work_dir storage.allowed_buckets storage.external_buckets", ("storage", "external_buckets", i), f"expected a bucket outside this account, read only, found {item.name}, which is the work bucket or in allowed_buckets (list it once: allowed_buckets with access: read for this account's buckets)")
    if storage.kms_key_arn is not None:
        if storage.create_bucket:
            error("storage.create_bucket storage.kms_key_arn", ("storage", "kms_key_arn"), "expected kms_key_arn only with create_bucket: false (the key of an existing work bucket; the bucket towergen creates uses SSE-S3), found one")
        elif _kms_region(storage.kms_key_arn) != env.region:
            error("region storage.kms_key_arn", ("storage", "kms_key_arn"), f"expected a KMS key in {env.region} (a bucket encrypts with a key of its own region, and the work bucket is the environment's), found one in {_kms_region(storage.kms_key_arn)}")
    if env.mode == "forge" and env.compute.ebs_kms_key_arn is not None and _kms_region(env.compute.ebs_kms_key_arn) != env.region:
        error("mode region compute.ebs_kms_key_arn", ("compute", "ebs_kms_key_arn"), f"expected a KMS key in {env.region} (EBS volumes encrypt with a key of their own region), found one in {_kms_region(env.compute.ebs_kms_key_arn)}")


def _kms_region(key_arn: str) -> str:
    return key_arn.split(":")[3]


def _check_instance_types(env: Environment, error: Error) -> None:
    """Types AWS knows (the catalogue: spec/instances.py), and one architecture the AMI runs."""
    c = env.compute
    known: list[tuple[int, str]] = []
    for i, name in enumerate(c.instance_types):
        if instances.known(name):
            known.append((i, name))
            continue
        close = instances.suggest(name, 3)
        hint = f" (did you mean {', '.join(repr(x) for x in close)}?)" if close else ""
        error("mode compute.instance_types", ("compute", "instance_types", i), f"expected an EC2 instance type or family that AWS offers{hint}, found {describe(name)}")
    by_arch: dict[str, list[tuple[int, str]]] = {}
    for i, name in known:
        for arch in sorted(instances.architectures(name)):
            by_arch.setdefault(arch, []).append((i, name))
    if len(by_arch) > 1:
        first = min(by_arch, key=lambda a: by_arch[a][0][0])
        for arch, items in sorted(by_arch.items()):
            if arch != first:
                i, name = items[0]
                error("mode compute.instance_types", ("compute", "instance_types", i), f"expected instance types of one architecture (a compute environment runs one AMI), found {describe(name)} ({arch}) beside {by_arch[first][0][1]} ({first})")
    elif set(by_arch) == {"arm64"} and c.ami_id is None:
        i, name = by_arch["arm64"][0]
        error("mode compute.instance_types compute.ami_id", ("compute", "instance_types", i), f"expected x86_64 instance types for towergen's AMI (the x86_64 ECS-optimized Amazon Linux 2023), found {describe(name)} (arm64, Graviton): set compute.ami_id to an arm64 ECS AMI to run it")
    elif by_arch and not set(by_arch) <= {"x86_64", "arm64"}:
        arch = sorted(set(by_arch) - {"x86_64", "arm64"})[0]
        i, name = by_arch[arch][0]
        error("mode compute.instance_types", ("compute", "instance_types", i), f"expected an x86_64 or arm64 instance type that AWS Batch runs, found {describe(name)} ({arch})")


def _no_repeats(src: Source, error: Error, loc: Loc, values: list[str]) -> None:
    first: dict[str, int] = {}
    reads = ".".join(loc)
    for i, value in enumerate(values):
        if value in first:
            line = src.position(loc + (first[value],), key=False)[0]
            error(reads, loc + (i,), f"expected each item once, found {describe(value)} again (first at line {line})")
        else:
            first[value] = i


def _check_fsx_create(env: Environment, error: Error) -> None:
    assert env.fsx is not None and env.fsx.create is not None
    create = env.fsx.create
    size = create.storage_gib
    kind = create.deployment_type
    if kind == "SCRATCH_1":
        ok = size in (1200, 2400) or size % 3600 == 0
        rule = "1200, 2400 or a multiple of 3600 for SCRATCH_1"
    else:
        ok = size == 1200 or size % 2400 == 0
        rule = f"1200 or a multiple of 2400 for {kind}"
    if not ok:
        error("fsx.create", ("fsx", "create", "storage_gib"), f"expected {rule}, found {size}")
    throughput = create.per_unit_storage_throughput
    allowed = FSX_THROUGHPUT.get(kind)
    if throughput is not None:
        if allowed is None:
            error("fsx.create", ("fsx", "create", "per_unit_storage_throughput"), f"expected no per_unit_storage_throughput for {kind} (PERSISTENT types only), found {throughput}")
        elif throughput not in allowed:
            error("fsx.create", ("fsx", "create", "per_unit_storage_throughput"), f"expected one of {', '.join(map(str, allowed))} for {kind}, found {throughput}")

