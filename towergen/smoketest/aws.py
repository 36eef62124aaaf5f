"""The AWS objects an applied environment made, read through the AWS API and checked against the
resolved environment and Terraform's outputs; and after the destroy, that nothing is left."""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from typing import Any

from ..decide.resolved import Resolved
from ..renderer.escape import tftpl_render
from ..renderer.files import USER_DATA_FILE
from ..run.workspace import Workspace
from .identities import check_identities, check_metadata_options, check_shutdown_behavior, policy_document
from .report import Checks

Client = Callable[[str], Any]


def clients(endpoint: str, region: str) -> Client:
    """One boto3 client per service (made on first use), aimed at the emulator."""
    import boto3

    session = boto3.session.Session(aws_access_key_id="towergen-emulator", aws_secret_access_key="towergen-emulator", region_name=region)
    return functools.cache(lambda service: session.client(service, endpoint_url=endpoint))


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
        checks.expect("the head queue has an on-demand environment of its own" if r.head_environment else "the head queue shares the work environment",
                      separate == r.head_environment, head.get("computeEnvironmentName"))
        c = env.compute
        if work:
            label = work["computeEnvironmentName"]
            res = work["computeResources"]
            checks.expect(f"{label} is ENABLED", work["state"] == "ENABLED", work["state"])
            checks.expect(f"{label} uses Batch's service-linked role", work.get("serviceRole", "").endswith("/AWSServiceRoleForBatch"), work.get("serviceRole"))
            checks.expect(f"{label} is {r.batch_type}", res["type"] == r.batch_type, res["type"])
            checks.expect(f"{label} allocates {r.allocation_strategy}", res.get("allocationStrategy") == r.allocation_strategy, res.get("allocationStrategy"))
            checks.expect(f"{label} has {c.max_cpus} max vCPUs", res["maxvCpus"] == c.max_cpus, res["maxvCpus"])
            checks.expect(f"{label} has min vCPUs {c.min_cpus}", res.get("minvCpus", 0) == c.min_cpus, res.get("minvCpus"))
            if r.spot:
                checks.expect(f"{label} bids {c.cost_percentage}%", res.get("bidPercentage") == c.cost_percentage, res.get("bidPercentage"))
        if r.head_environment and head:
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
    if r.fsx_spec is not None:
        dns = outputs.get("fsx_dns_name")
        systems = [f for f in client("fsx").describe_file_systems()["FileSystems"] if f.get("DNSName") == dns]
        if checks.expect(f"the file system {dns} exists", len(systems) == 1, len(systems)):
            fs = systems[0]
            checks.expect("the file system is AVAILABLE", fs.get("Lifecycle") == "AVAILABLE", fs.get("Lifecycle"))
            checks.expect(f"the file system has {r.fsx_spec.storage_gib} GiB", fs["StorageCapacity"] == r.fsx_spec.storage_gib, fs["StorageCapacity"])
            variables = {"fsx_dns_name": fs["DNSName"], "fsx_mount_name": fs["LustreConfiguration"]["MountName"]}
    if r.forge and work:
        ec2 = client("ec2")
        template_id = (work["computeResources"].get("launchTemplate") or {}).get("launchTemplateId")
        version = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"]) if template_id else None
        versions = version["LaunchTemplateVersions"] if version else []
        if checks.expect("the work environment has a launch template", bool(versions), template_id):
            data = versions[0]["LaunchTemplateData"]
            user_data = base64.b64decode(data.get("UserData", "")).decode("utf-8")
            expected = tftpl_render((ws.root / USER_DATA_FILE).read_text(encoding="utf-8"), variables)
            checks.expect("the launch template's user-data is the rendered user-data", user_data == expected)
            check_metadata_options(data.get("MetadataOptions") or {}, checks)
            check_shutdown_behavior(data, checks)
            if variables:
                checks.expect("the user-data mounts the new file system", variables["fsx_dns_name"] in user_data)
    assert ws.loaded is not None
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
