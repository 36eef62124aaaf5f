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
from .localstack import check_localstack, services_needed
from .progress import Echo
from .resolved import Resolved
from .run import describe_target, emulator_for, terraform_command, terraform_init
from .targets import Workspace, workspace
from .smoke_iam import check_identities, policy_document
from .terraform import Terraform
from .values import USER_DATA_FILE


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

    def as_report(self) -> dict:
        """The report as data (``--json-report``)."""
        return {
            "environment": self.environment, "command": "smoke", "target": self.target, "ok": self.ok,
            "seconds": round(self.seconds, 1), "failures": self.failures,
            "phases": [{"name": p.name, "seconds": round(p.seconds, 1), "ok": p.ok, "detail": p.detail} for p in self.phases],
        }


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
    """One boto3 client per service (made on first use), aimed at the emulator."""
    import functools

    import boto3

    session = boto3.session.Session(aws_access_key_id="towergen-emulator", aws_secret_access_key="towergen-emulator", region_name=region)
    return functools.cache(lambda service: session.client(service, endpoint_url=endpoint))


def render_tftpl(template: str, variables: dict[str, str]) -> str:
    """What ``templatefile`` makes of towergen's user-data: its variables filled in, escapes undone."""
    def sub(match: re.Match) -> str:
        if match.group(0) in ("$${", "%%{"):
            return match.group(0)[1:]
        return variables[match.group(1)]

    return re.sub(r"\$\$\{|%%\{|\$\{([a-z_]+)\}", sub, template)


def check_outputs(r: Resolved, outputs: dict[str, Any]) -> Checks:
    """Terraform's outputs after the apply say what towergen decided, nothing else."""
    checks = Checks()
    expected = {
        "work_dir": r.work_dir,
        "head_queue_name": r.head_queue,
        "compute_queue_name": r.compute_queue,
        "work_bucket": r.work_bucket,
        "user_name": r.user_name if r.creates_user else None,
    }
    for key, value in expected.items():
        checks.expect(f"Terraform's output {key} is {value!r}", outputs.get(key) == value, outputs.get(key, "(missing)"))
    return checks


def check_created(r: Resolved, ws: Workspace, outputs: dict[str, Any], client: Callable[[str], Any]) -> Checks:
    """The AWS objects the apply made, read through the AWS API, against the resolved environment.
    Names come from Terraform's outputs and from the objects themselves, not worked out again."""
    env = r.env
    checks = check_outputs(r, outputs)
    batch = client("batch")

    # --- queues and the compute environments behind them
    queues = {q["jobQueueName"]: q for q in batch.describe_job_queues(jobQueues=[r.head_queue, r.compute_queue])["jobQueues"]}
    for queue in (r.head_queue, r.compute_queue):
        checks.expect(f"job queue {queue} exists", queue in queues)
    work = head = None
    if r.forge and {r.head_queue, r.compute_queue} <= set(queues):
        def environment_of(queue: str) -> dict[str, Any]:
            order = queues[queue]["computeEnvironmentOrder"]
            checks.expect(f"job queue {queue} runs on one compute environment", len(order) == 1, order)
            arn = order[0]["computeEnvironment"]
            found = batch.describe_compute_environments(computeEnvironments=[arn])["computeEnvironments"]
            checks.expect(f"the compute environment of {queue} exists", len(found) == 1, arn)
            return found[0] if found else {}

        for queue in (r.head_queue, r.compute_queue):
            q = queues[queue]
            checks.expect(f"job queue {queue} is ENABLED", q["state"] == "ENABLED", q["state"])
            actions = q.get("jobStateTimeLimitActions") or []
            checks.expect(f"job queue {queue} cancels jobs no instance can run", any(
                a.get("reason") == "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT" and a.get("action") == "CANCEL" for a in actions
            ), actions)
        work, head = environment_of(r.compute_queue), environment_of(r.head_queue)
        separate = head.get("computeEnvironmentArn") != work.get("computeEnvironmentArn")
        checks.expect("the head queue has an on-demand environment of its own" if r.spot else "the head queue shares the work environment",
                      separate == r.spot, head.get("computeEnvironmentName"))
        c = env.compute
        if work:
            label = work["computeEnvironmentName"]
            res = work["computeResources"]
            checks.expect(f"{label} is ENABLED", work["state"] == "ENABLED", work["state"])
            checks.expect(f"{label} uses Batch's service-linked role", work.get("serviceRole", "").endswith("/AWSServiceRoleForBatch"), work.get("serviceRole"))
            checks.expect(f"{label} is {'SPOT' if r.spot else 'EC2'}", res["type"] == ("SPOT" if r.spot else "EC2"), res["type"])
            checks.expect(f"{label} allocates {r.allocation_strategy}", res.get("allocationStrategy") == r.allocation_strategy, res.get("allocationStrategy"))
            checks.expect(f"{label} has {c.max_cpus} max vCPUs", res["maxvCpus"] == c.max_cpus, res["maxvCpus"])
            checks.expect(f"{label} has min vCPUs {c.min_cpus}", res.get("minvCpus", 0) == c.min_cpus, res.get("minvCpus"))
            if r.spot:
                checks.expect(f"{label} bids {c.cost_percentage}%", res.get("bidPercentage") == c.cost_percentage, res.get("bidPercentage"))
        if r.spot and head:
            res = head["computeResources"]
            label = head["computeEnvironmentName"]
            checks.expect(f"{label} is on-demand", res["type"] == "EC2", res["type"])
            checks.expect(f"{label} has {c.head_queue.max_cpus} max vCPUs", res["maxvCpus"] == c.head_queue.max_cpus, res["maxvCpus"])

    # --- bucket
    if r.create_bucket:
        s3 = client("s3")
        bucket = r.work_bucket
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        if checks.expect(f"bucket {bucket} exists", bucket in names, names):
            lifecycle = env.storage.lifecycle
            if lifecycle.expire_days or lifecycle.abort_incomplete_multipart_days:
                rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
                rule = rules[0] if len(rules) == 1 else {}
                checks.expect(f"bucket {bucket} has one lifecycle rule", len(rules) == 1, rules)
                checks.expect("the lifecycle rule is enabled", rule.get("Status") == "Enabled", rule.get("Status"))
                checks.expect(f"the lifecycle rule covers prefix {r.lifecycle_prefix!r}", (rule.get("Filter") or {}).get("Prefix", "") == r.lifecycle_prefix, rule.get("Filter"))
                if lifecycle.expire_days:
                    days = (rule.get("Expiration") or {}).get("Days")
                    checks.expect(f"objects expire after {lifecycle.expire_days} days", days == lifecycle.expire_days, days)
            enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
            algorithm = enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
            checks.expect("the bucket encrypts by default (AES256)", algorithm == "AES256", algorithm)
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
            checks.expect("the bucket blocks public access", all(block.values()), block)

    # --- IAM: the platform's user holds exactly the policy Terraform rendered
    iam = client("iam")
    if r.creates_user:
        user = r.user_name
        users = [u["UserName"] for u in iam.list_users()["Users"]]
        if checks.expect(f"IAM user {user} exists", user in users, users):
            attached = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
            documents = []
            for policy in attached:
                meta = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]
                if not policy["PolicyArn"].startswith("arn:aws:iam::aws:"):
                    doc = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=meta["DefaultVersionId"])["PolicyVersion"]["Document"]
                    documents.append(policy_document(doc))
            wanted = policy_document(outputs.get("user_policy_json"))
            checks.expect(f"{user} has the {r.user_policy} policy Terraform rendered", wanted in documents, len(documents))
            names = sorted(p["PolicyName"] for p in attached)
            if r.aws_managed_policies:
                for managed in ("AmazonS3ReadOnlyAccess", "AmazonEC2ContainerRegistryReadOnly", "CloudWatchLogsReadOnlyAccess"):
                    checks.expect(f"{user} has {managed}", managed in names, names)
            keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
            checks.expect(f"{user} has an access key", len(keys) == 1, len(keys))
    if r.forge and work:
        res = work["computeResources"]
        profiles = {p["Arn"] for p in iam.list_instance_profiles()["InstanceProfiles"]}
        checks.expect("the instance profile of the work environment exists", res.get("instanceRole") in profiles, res.get("instanceRole"))
        if r.spot:
            roles = {role["Arn"] for role in iam.list_roles()["Roles"]}
            checks.expect("the spot fleet role exists", res.get("spotIamFleetRole") in roles, res.get("spotIamFleetRole"))

    # --- FSx and the launch template's user-data
    variables: dict[str, str] = {}
    if r.fsx_create:
        dns = outputs.get("fsx_dns_name")
        systems = [f for f in client("fsx").describe_file_systems()["FileSystems"] if f.get("DNSName") == dns]
        if checks.expect(f"the file system {dns} exists", len(systems) == 1, len(systems)):
            fs = systems[0]
            checks.expect("the file system is AVAILABLE", fs.get("Lifecycle") == "AVAILABLE", fs.get("Lifecycle"))
            checks.expect(f"the file system has {env.fsx.create.storage_gib} GiB", fs["StorageCapacity"] == env.fsx.create.storage_gib, fs["StorageCapacity"])
            variables = {"fsx_dns_name": fs["DNSName"], "fsx_mount_name": fs["LustreConfiguration"]["MountName"]}
    if r.forge and work:
        ec2 = client("ec2")
        template_id = (work["computeResources"].get("launchTemplate") or {}).get("launchTemplateId")
        version = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"]) if template_id else None
        if checks.expect("the work environment has a launch template", bool(version and version["LaunchTemplateVersions"]), template_id):
            data = version["LaunchTemplateVersions"][0]["LaunchTemplateData"]
            user_data = base64.b64decode(data.get("UserData", "")).decode("utf-8")
            expected = render_tftpl((ws.root / USER_DATA_FILE).read_text(encoding="utf-8"), variables)
            checks.expect("the launch template's user-data is the rendered user-data", user_data == expected)
            checks.expect("instances require IMDSv2", (data.get("MetadataOptions") or {}).get("HttpTokens") == "required", data.get("MetadataOptions"))
            if variables:
                checks.expect("the user-data mounts the new file system", variables["fsx_dns_name"] in user_data)
    check_identities(ws.loaded, ws.root, client, checks, work)
    return checks


def check_gone(r: Resolved, client: Callable[[str], Any]) -> Checks:
    """After the destroy: nothing named after the environment is left (the existing queues of a
    manual environment excepted)."""
    prefix = f"{r.name}-"
    checks = Checks()
    batch = client("batch")
    left = [q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"] if q["jobQueueName"] in (r.head_queue, r.compute_queue)]
    if r.forge:
        checks.expect("no job queue is left", not left, left)
    else:
        checks.expect("the existing queues are untouched", sorted(left) == sorted({r.head_queue, r.compute_queue}), left)
    # the provider names compute environments itself (terraform-...); towergen tags them NAME-work/-head
    left = [c["computeEnvironmentName"] for c in batch.describe_compute_environments()["computeEnvironments"]
            if c["computeEnvironmentName"].startswith(prefix) or (c.get("tags") or {}).get("Name", "").startswith(prefix)]
    checks.expect("no compute environment is left", not left, left)
    iam = client("iam")
    left = [u["UserName"] for u in iam.list_users()["Users"] if u["UserName"] == r.user_name]
    checks.expect("no IAM user is left", not left, left)
    left = [x["RoleName"] for x in iam.list_roles()["Roles"] if x["RoleName"].startswith(prefix)]
    checks.expect("no IAM role is left", not left, left)
    left = [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"].startswith(prefix)]
    checks.expect("no IAM policy is left", not left, left)
    left = [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"] if p["InstanceProfileName"].startswith(prefix)]
    checks.expect("no instance profile is left", not left, left)
    if r.forge:
        ec2 = client("ec2")
        left = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"] if t["LaunchTemplateName"] == r.name or t["LaunchTemplateName"].startswith(prefix)]
        checks.expect("no launch template is left", not left, left)
        left = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith(prefix)]
        checks.expect("no security group is left", not left, left)
        left = [f["FileSystemId"] for f in client("fsx").describe_file_systems()["FileSystems"]]
        checks.expect("no file system is left", not left, left)
    if r.create_bucket:
        left = [b["Name"] for b in client("s3").list_buckets()["Buckets"] if b["Name"] == r.work_bucket]
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
            raise TowergenError(
                "smoke needs the environment file (it checks the AWS objects against it): give the file, or "
                "a folder whose output tree's manifest (towergen-manifest.json) records a file that exists"
            )
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
    checks = check_created(ws.loaded.resolved, ws, applied.outputs, client)
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
    gone = check_gone(ws.loaded.resolved, client)
    report.failures += [f"left behind: {f}" for f in gone.failed]
    phase("verify", time.monotonic() - t, not gone.failed, "nothing left" if not gone.failed else f"{len(gone.failed)} kinds of object left")


def _destroy(tf: Terraform, ws: Workspace, report: SmokeReport, echo: Echo, phase, after_failure: bool = False) -> bool:
    protected = bool(ws.loaded.resolved.guarded)  # dispose: false, and something to protect
    destroyed = terraform_command(tf, ws, "destroy", echo)
    if protected and not after_failure:
        refused = destroyed.exit_code != 0 and any("prevent_destroy" in d or "cannot be destroyed" in d for d in destroyed.diagnostics)
        guarded = " and ".join(ws.loaded.resolved.guarded)
        phase("protect", destroyed.seconds, refused, f"destroy refused (dispose: false guards the {guarded})" if refused else "destroy NOT refused")
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
