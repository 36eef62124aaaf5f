"""``towergen smoke``: the check a pull request runs.

Against the embedded emulator (or LocalStack), in one go: apply the environment, check the AWS
objects it made through the AWS API (queues, compute environments, bucket and lifecycle rule,
user and policies, roles, launch template user-data, file system), plan again and fail on any
drift, destroy, and check that nothing is left. Each phase is timed.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import TowergenError
from .loader import Loaded
from .run import (
    Echo,
    Workspace,
    check_localstack,
    describe_target,
    emulator_for,
    services_needed,
    terraform_command,
    terraform_init,
    workspace,
)
from .smoke_iam import check_identities
from .terraform import Terraform
from .values import USER_DATA_FILE, work_prefix


@dataclass
class Phase:
    name: str
    seconds: float
    ok: bool
    detail: str


@dataclass
class SmokeReport:
    environment: str
    target: str
    phases: list[Phase] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and all(p.ok for p in self.phases)

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases)


class Checks:
    """A list of named expectations about the AWS objects, run against the emulator's API."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def expect(self, what: str, condition: bool, found: Any = None) -> bool:
        if condition:
            self.passed.append(what)
        else:
            self.failed.append(f"{what}: found {found!r}" if found is not None else what)
        return condition


def _clients(endpoint: str, region: str) -> Callable[[str], Any]:
    import boto3

    session = boto3.session.Session(aws_access_key_id="towergen-emulator", aws_secret_access_key="towergen-emulator", region_name=region)
    return lambda service: session.client(service, endpoint_url=endpoint)


def render_tftpl(template: str, variables: dict[str, str]) -> str:
    """What ``templatefile`` makes of towergen's user-data: its variables filled in, escapes undone."""
    def sub(match: re.Match) -> str:
        if match.group(0) in ("$${", "%%{"):
            return match.group(0)[1:]
        return variables[match.group(1)]

    return re.sub(r"\$\$\{|%%\{|\$\{([a-z_]+)\}", sub, template)


def check_created(loaded: Loaded, ws: Workspace, client: Callable[[str], Any]) -> Checks:
    env = loaded.env
    name = env.name
    checks = Checks()
    forge = env.mode == "forge"
    batch = client("batch")

    # --- queues and compute environments
    if forge:
        spot = env.compute.provisioning == "spot"
        queues = {q["jobQueueName"]: q for q in batch.describe_job_queues(jobQueues=[f"{name}-head", f"{name}-work"])["jobQueues"]}
        # compute environments are named NAME-work-<suffix> and NAME-head-<suffix>
        ces = {}
        for c in batch.describe_compute_environments()["computeEnvironments"]:
            for role in ("work", "head"):
                if c["computeEnvironmentName"].startswith(f"{name}-{role}-"):
                    ces[f"{name}-{role}"] = c
        expected_head_ce = f"{name}-head" if spot else f"{name}-work"
        for queue, ce in ((f"{name}-head", expected_head_ce), (f"{name}-work", f"{name}-work")):
            q = queues.get(queue)
            if not checks.expect(f"job queue {queue} exists", q is not None):
                continue
            checks.expect(f"job queue {queue} is ENABLED", q["state"] == "ENABLED", q["state"])
            order = [o["computeEnvironment"] for o in q["computeEnvironmentOrder"]]
            arn = ces.get(ce, {}).get("computeEnvironmentArn")
            checks.expect(f"job queue {queue} runs on compute environment {ce}", order == [arn], order)
            actions = q.get("jobStateTimeLimitActions") or []
            checks.expect(f"job queue {queue} cancels jobs no instance can run", any(
                a.get("reason") == "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT" and a.get("action") == "CANCEL" for a in actions
            ), actions)
        work = ces.get(f"{name}-work")
        if checks.expect(f"compute environment {name}-work exists", work is not None):
            res = work["computeResources"]
            checks.expect(f"{name}-work is ENABLED", work["state"] == "ENABLED", work["state"])
            checks.expect(f"{name}-work uses Batch's service-linked role", work.get("serviceRole", "").endswith("/AWSServiceRoleForBatch"), work.get("serviceRole"))
            checks.expect(f"{name}-work is {'SPOT' if spot else 'EC2'}", res["type"] == ("SPOT" if spot else "EC2"), res["type"])
            checks.expect(f"{name}-work has {env.compute.max_cpus} max vCPUs", res["maxvCpus"] == env.compute.max_cpus, res["maxvCpus"])
            checks.expect(f"{name}-work has min vCPUs {env.compute.min_cpus}", res.get("minvCpus", 0) == env.compute.min_cpus, res.get("minvCpus"))
            if spot:
                checks.expect(f"{name}-work bids {env.compute.cost_percentage}%", res.get("bidPercentage") == env.compute.cost_percentage, res.get("bidPercentage"))
        if spot:
            head = ces.get(f"{name}-head")
            if checks.expect(f"compute environment {name}-head exists", head is not None):
                res = head["computeResources"]
                checks.expect(f"{name}-head is on-demand", res["type"] == "EC2", res["type"])
                checks.expect(f"{name}-head has {env.compute.head_queue.max_cpus} max vCPUs", res["maxvCpus"] == env.compute.head_queue.max_cpus, res["maxvCpus"])
    else:
        queues = {q["jobQueueName"]: q for q in batch.describe_job_queues()["jobQueues"]}
        for queue in (env.manual.head_queue, env.manual.compute_queue):
            checks.expect(f"existing job queue {queue} is there", queue in queues)

    # --- bucket
    if not env.work_on_fsx and env.storage.create_bucket:
        s3 = client("s3")
        bucket = env.work_bucket
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        if checks.expect(f"bucket {bucket} exists", bucket in names, names):
            lifecycle = env.storage.lifecycle
            if lifecycle.expire_days or lifecycle.abort_incomplete_multipart_days:
                rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
                prefix = lifecycle.prefix if lifecycle.prefix is not None else work_prefix(env.work_dir)
                rule = rules[0] if len(rules) == 1 else {}
                checks.expect(f"bucket {bucket} has one lifecycle rule", len(rules) == 1, rules)
                checks.expect("the lifecycle rule is enabled", rule.get("Status") == "Enabled", rule.get("Status"))
                checks.expect(f"the lifecycle rule covers prefix {prefix!r}", (rule.get("Filter") or {}).get("Prefix", "") == prefix, rule.get("Filter"))
                if lifecycle.expire_days:
                    days = (rule.get("Expiration") or {}).get("Days")
                    checks.expect(f"objects expire after {lifecycle.expire_days} days", days == lifecycle.expire_days, days)
            enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
            algorithm = enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
            checks.expect("the bucket encrypts by default (AES256)", algorithm == "AES256", algorithm)
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
            checks.expect("the bucket blocks public access", all(block.values()), block)

    # --- IAM
    iam = client("iam")
    if env.credentials.create_user and env.credentials.type == "user":
        user = f"{name}-{env.credentials.user_name}"
        users = [u["UserName"] for u in iam.list_users()["Users"]]
        if checks.expect(f"IAM user {user} exists", user in users, users):
            attached = sorted(p["PolicyName"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"])
            policy = f"{name}-{env.user_policy}"
            checks.expect(f"{user} has the {policy} policy", policy in attached, attached)
            if not forge and env.credentials.aws_managed_policies is not False:
                for managed in ("AmazonS3ReadOnlyAccess", "AmazonEC2ContainerRegistryReadOnly", "CloudWatchLogsReadOnlyAccess"):
                    checks.expect(f"{user} has {managed}", managed in attached, attached)
            keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
            checks.expect(f"{user} has an access key", len(keys) == 1, len(keys))
    if forge:
        roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
        wanted = [f"{name}-instance"] + ([f"{name}-spot-fleet"] if env.compute.provisioning == "spot" else [])
        for role in wanted:
            checks.expect(f"IAM role {role} exists", role in roles)
        profiles = {p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]}
        checks.expect(f"instance profile {name}-instance exists", f"{name}-instance" in profiles)

    # --- FSx and the launch template's user-data
    variables: dict[str, str] = {}
    if forge and env.fsx is not None and env.fsx.create is not None:
        systems = [f for f in client("fsx").describe_file_systems()["FileSystems"] if f.get("Tags") and {"Key": "Name", "Value": name} in f["Tags"]]
        if checks.expect("one FSx for Lustre file system exists", len(systems) == 1, len(systems)):
            fs = systems[0]
            checks.expect("the file system is AVAILABLE", fs.get("Lifecycle") == "AVAILABLE", fs.get("Lifecycle"))
            checks.expect(f"the file system has {env.fsx.create.storage_gib} GiB", fs["StorageCapacity"] == env.fsx.create.storage_gib, fs["StorageCapacity"])
            variables = {"fsx_dns_name": fs["DNSName"], "fsx_mount_name": fs["LustreConfiguration"]["MountName"]}
    if forge:
        ec2 = client("ec2")
        templates = ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [name]}])["LaunchTemplates"]
        if checks.expect(f"launch template {name} exists", len(templates) == 1, len(templates)):
            version = ec2.describe_launch_template_versions(LaunchTemplateId=templates[0]["LaunchTemplateId"], Versions=["$Latest"])
            data = version["LaunchTemplateVersions"][0]["LaunchTemplateData"]
            user_data = base64.b64decode(data.get("UserData", "")).decode("utf-8")
            expected = render_tftpl((ws.root / USER_DATA_FILE).read_text(encoding="utf-8"), variables)
            checks.expect("the launch template's user-data is the rendered user-data", user_data == expected)
            checks.expect("instances require IMDSv2", (data.get("MetadataOptions") or {}).get("HttpTokens") == "required", data.get("MetadataOptions"))
            if variables:
                checks.expect("the user-data mounts the new file system", variables["fsx_dns_name"] in user_data)
    check_identities(loaded, ws.root, client, checks)
    return checks


def check_gone(loaded: Loaded, client: Callable[[str], Any]) -> Checks:
    env = loaded.env
    name = env.name
    prefix = f"{name}-"
    checks = Checks()
    batch = client("batch")
    left = [q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"] if q["jobQueueName"].startswith(prefix)]
    checks.expect("no job queue is left", not left, left)
    left = [c["computeEnvironmentName"] for c in batch.describe_compute_environments()["computeEnvironments"] if c["computeEnvironmentName"].startswith(prefix)]
    checks.expect("no compute environment is left", not left, left)
    if env.mode == "manual":
        queues = {q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"]}
        checks.expect("the existing queues are untouched", {env.manual.head_queue, env.manual.compute_queue} <= queues, queues)
    iam = client("iam")
    left = [u["UserName"] for u in iam.list_users()["Users"] if u["UserName"].startswith(prefix)]
    checks.expect("no IAM user is left", not left, left)
    left = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(prefix)]
    checks.expect("no IAM role is left", not left, left)
    left = [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"].startswith(prefix)]
    checks.expect("no IAM policy is left", not left, left)
    left = [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"] if p["InstanceProfileName"].startswith(prefix)]
    checks.expect("no instance profile is left", not left, left)
    if env.mode == "forge":
        ec2 = client("ec2")
        left = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"] if t["LaunchTemplateName"] == name]
        checks.expect("no launch template is left", not left, left)
        left = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith(prefix)]
        checks.expect("no security group is left", not left, left)
        left = [f["FileSystemId"] for f in client("fsx").describe_file_systems()["FileSystems"]]
        checks.expect("no file system is left", not left, left)
    if not env.work_on_fsx and env.storage.create_bucket:
        bucket = env.work_bucket
        left = [b["Name"] for b in client("s3").list_buckets()["Buckets"] if b["Name"] == bucket]
        checks.expect("the work bucket is gone", not left, left)
    return checks


def smoke(source: str | Path, echo: Echo, *, target: str = "local", endpoint: str | None = None,
          plugin_mirror: str | Path | None = None) -> SmokeReport:
    if target not in ("local", "localstack"):
        raise TowergenError("smoke runs against an emulator: --target local or localstack")
    tf = Terraform.discover(plugin_mirror)
    started = time.monotonic()
    with workspace(source, target, endpoint=endpoint) as ws:
        if ws.loaded is None:
            raise TowergenError("smoke needs the environment file (it checks the AWS objects against it)")
        report = SmokeReport(ws.name, target)
        report.phases.append(Phase("render", time.monotonic() - started, True, ""))
        if target == "localstack":
            check_localstack(ws.endpoint, services_needed(ws.loaded, "apply"))
        with emulator_for(ws) as url:
            echo(f"towergen smoke: {ws.name} on {describe_target(ws)}")
            client = _clients(url, ws.loaded.env.region)
            _phases(tf, ws, client, report, echo)
    _print_report(report, echo)
    return report


def _phases(tf: Terraform, ws: Workspace, client, report: SmokeReport, echo: Echo) -> None:
    def phase(name: str, seconds: float, ok: bool, detail: str) -> bool:
        report.phases.append(Phase(name, seconds, ok, detail))
        return ok

    phase("init", terraform_init(tf, ws, echo), True, "")
    applied = terraform_command(tf, ws, "apply", echo)
    if not phase("apply", applied.seconds, applied.exit_code == 0, f"{applied.summary.get('add', 0)} added"):
        report.failures += applied.diagnostics
        _destroy(tf, ws, report, echo, phase, after_failure=True)
        return

    t = time.monotonic()
    checks = check_created(ws.loaded, ws, client)
    report.failures += [f"check failed: {f}" for f in checks.failed]
    phase("check", time.monotonic() - t, not checks.failed, f"{len(checks.passed)} of {len(checks.passed) + len(checks.failed)} checks passed")

    replan = terraform_command(tf, ws, "plan", echo)
    drift = replan.exit_code == 2
    if replan.exit_code == 1:
        report.failures += replan.diagnostics
    elif drift:
        report.failures.append("the plan after apply is not empty: Terraform would change what it just made (drift)")
    no_drift = f"no drift ({replan.refreshed} objects refreshed)" if replan.refreshed else "no drift"
    phase("re-plan", replan.seconds, replan.exit_code == 0, no_drift if replan.exit_code == 0 else "DRIFT" if drift else "failed")

    if not _destroy(tf, ws, report, echo, phase):
        return
    t = time.monotonic()
    gone = check_gone(ws.loaded, client)
    report.failures += [f"left behind: {f}" for f in gone.failed]
    phase("verify", time.monotonic() - t, not gone.failed, "nothing left" if not gone.failed else f"{len(gone.failed)} kinds of object left")


def _destroy(tf: Terraform, ws: Workspace, report: SmokeReport, echo: Echo, phase, after_failure: bool = False) -> bool:
    protected = not ws.loaded.env.compute.dispose and ws.loaded.env.mode == "forge"
    destroyed = terraform_command(tf, ws, "destroy", echo)
    if protected and not after_failure:
        refused = destroyed.exit_code != 0 and any("prevent_destroy" in d or "cannot be destroyed" in d for d in destroyed.diagnostics)
        phase("protect", destroyed.seconds, refused, "destroy refused (dispose: false)" if refused else "destroy NOT refused")
        if not refused:
            report.failures.append("dispose: false, but destroy was not refused")
            return False
        # Lift the guard in the throw-away state only, then tear the rest down.
        tf.run("state", "rm", "terraform_data.protect", cwd=ws.root, extra_env=ws.terraform_env())
        destroyed = terraform_command(tf, ws, "destroy", echo)
    ok = destroyed.exit_code == 0
    if not ok:
        report.failures += destroyed.diagnostics
    phase("destroy", destroyed.seconds, ok, f"{destroyed.summary.get('remove', 0)} destroyed" if ok else "failed")
    return ok


def _print_report(report: SmokeReport, echo: Echo) -> None:
    echo("")
    echo(f"smoke report for {report.environment} ({report.target}):")
    for p in report.phases:
        echo(f"  {p.name:<9} {p.seconds:7.1f} s  {'ok  ' if p.ok else 'FAIL'}  {p.detail}".rstrip())
    for failure in report.failures:
        echo(f"  - {failure}")
    echo(f"smoke {'passed' if report.ok else 'FAILED'} in {report.seconds:.0f} s")
