"""Changing a live environment: the compute environment is replaced create-first, never deleted
first, and the result is clean.

An environment is applied on the embedded moto server, then each of instance types, allocation
strategy, AMI, launch template (a new user-data) and subnets is changed in turn and applied
again. For each change the saved plan must replace exactly the compute environments it should
as create-then-delete, update their queues in place and delete nothing first; Terraform's own
event stream of the apply must show new environment created, then queue moved, then old
environment deleted; a second plan must find nothing to do, and the AWS API must show the queue
on the new environment and the old one gone. Finally the destroy must delete the compute
environments before the IAM they run with.

moto is made as strict as AWS where it matters here (`strict_batch`): it refuses to delete a
compute environment that is still ENABLED or still named by a job queue ("Cannot delete, found
existing JobQueue relationship", provider #2044/#11777/#46925), or whose own service role has lost
its policy (AWS leaves such an environment in DELETING/INVALID, #8549/#26930); moto itself already
refuses a second compute environment of the same name (#44644's 409). moto runs no instances: what
the running jobs of a deleted environment experience cannot be shown here.

About 10 minutes here (the AWS provider's own waiters: ~30 s per job queue update, ~60 s per queue
delete); the two tests run side by side under pytest-xdist.
"""

from __future__ import annotations

import base64
import json
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

import towergen
from towergen.run.emulator import MotoServer, write_override

pytestmark = pytest.mark.emulator

NAME = "swap"
REGION = "eu-west-1"
BUCKET = "towergen-swap-work"
WORK_CE = "module.compute.aws_batch_compute_environment.work"
HEAD_CE = "module.compute.aws_batch_compute_environment.head[0]"
WORK_QUEUE = "module.compute.aws_batch_job_queue.work"
HEAD_QUEUE = "module.compute.aws_batch_job_queue.head"
QUEUE_OF = {WORK_CE: WORK_QUEUE, HEAD_CE: HEAD_QUEUE}
BUNDLE_URL = "https://example.org/towergen-test/miniconda-awscli.tar.gz"


# --- moto as strict as AWS ---------------------------------------------------------------------------


@pytest.fixture
def strict_batch(monkeypatch):
    """moto's DeleteComputeEnvironment, with the refusals AWS makes (moto deletes anything)."""
    from moto.batch.exceptions import ClientException
    from moto.batch.models import BatchBackend

    original = BatchBackend.delete_compute_environment

    def delete_compute_environment(self: Any, compute_environment_name: str) -> None:
        ce = self.get_compute_environment(compute_environment_name)
        if ce is not None:
            if ce.state == "ENABLED":
                raise ClientException(f"Cannot delete, compute environment {ce.name} is ENABLED; disable it first")
            for queue in self._job_queues.values():
                if any(item["computeEnvironment"] in (ce.arn, ce.name) for item in queue.env_order_json):
                    raise ClientException("Cannot delete, found existing JobQueue relationship")
            role_arn = ce.service_role or ""
            if "/aws-service-role/" not in role_arn:
                role = next((r for r in self.iam_backend.roles.values() if r.arn == role_arn), None)
                if role is None or not (role.managed_policies or role.policies):
                    raise ClientException(
                        f"{ce.name}: its service role {role_arn} is gone or has no policy; AWS would leave it in DELETING"
                    )
        return original(self, compute_environment_name)

    monkeypatch.setattr(BatchBackend, "delete_compute_environment", delete_compute_environment)


def test_strict_batch_refuses_what_aws_refuses(strict_batch):
    """The strict emulator bites: the tests below pass because the order is right, not because
    moto lets anything through."""
    from botocore.exceptions import ClientError

    with MotoServer() as moto:
        batch = boto3.client("batch", endpoint_url=moto.endpoint, region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s")
        ce = batch.create_compute_environment(computeEnvironmentName="strict-ce", type="UNMANAGED", state="ENABLED")["computeEnvironmentArn"]
        batch.create_job_queue(jobQueueName="q", state="ENABLED", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
        batch.update_compute_environment(computeEnvironment=ce, state="DISABLED")
        with pytest.raises(ClientError, match="found existing JobQueue relationship"):
            batch.delete_compute_environment(computeEnvironment=ce)
        with pytest.raises(ClientError, match="already exists"):
            batch.create_compute_environment(computeEnvironmentName="strict-ce", type="UNMANAGED", state="ENABLED")
        batch.delete_job_queue(jobQueue="q")
        batch.delete_compute_environment(computeEnvironment=ce)
        assert batch.describe_compute_environments()["computeEnvironments"] == []


# --- running the rendered environment ----------------------------------------------------------------


@dataclass
class Events:
    """Terraform's -json apply/destroy stream: (kind, address, action) in the order printed."""

    items: list[tuple[str, str, str]]

    @classmethod
    def parse(cls, output: str) -> Events:
        items = []
        for line in output.splitlines():
            if line.startswith("{"):
                event = json.loads(line)
                hook = event.get("hook") or {}
                if event.get("type") in ("apply_start", "apply_complete", "apply_errored"):
                    items.append((event["type"], hook["resource"]["addr"], hook["action"]))
        return cls(items)

    def index(self, kind: str, address: str, action: str) -> int:
        for i, item in enumerate(self.items):
            if item == (kind, address, action):
                return i
        raise AssertionError(f"no {kind} {action} of {address} in:\n" + "\n".join(map(str, self.items)))


class Environment:
    """One rendered environment on the emulator, changed and re-applied in place."""

    BASE = """
        version: 1
        name: {name}
        region: {region}
        work_dir: s3://{bucket}/work
        storage:
          create_bucket: false
        compute:
          provisioning: spot
          max_cpus: 16
        {extra}
          network:
            subnet_ids: [{subnet}]
    """

    def __init__(self, folder: Path, terraform, endpoint: str, *, override: str | None = None):
        self.folder, self.terraform, self.endpoint, self.override = folder, terraform, endpoint, override
        self.root = folder / "infra" / NAME
        self.timings: dict[str, float] = {}

    def render(self, subnet: str, extra: str = "") -> None:
        spec = self.folder / f"{NAME}.yaml"
        body = textwrap.dedent(self.BASE).format(name=NAME, region=REGION, bucket=BUCKET, subnet=subnet, extra=textwrap.indent(extra, "  ").rstrip())
        spec.write_text(body, encoding="utf-8")
        towergen.render([spec], self.folder / "infra")
        write_override(self.root, self.endpoint)
        if self.override:
            (self.root / "zz_test_override.tf").write_text(self.override, encoding="utf-8")

    def tf(self, *args: str, ok_codes=(0,), label: str | None = None):
        start = time.monotonic()
        result = self.terraform.run(*args, cwd=self.root, ok_codes=ok_codes)
        if label:
            self.timings[label] = round(time.monotonic() - start, 1)
        return result

    def plan(self, label: str) -> dict[str, list[str]]:
        """The saved plan's actions by address (no-ops left out), with the reasons."""
        self.tf("plan", "-input=false", "-no-color", "-out=change.tfplan", label=f"{label}: plan")
        shown = json.loads(self.tf("show", "-json", "change.tfplan").stdout)
        self.reasons = {c["address"]: c.get("action_reason") for c in shown["resource_changes"]}
        return {c["address"]: c["change"]["actions"] for c in shown["resource_changes"]
                if c["change"]["actions"] not in (["no-op"], ["read"])}

    def apply_plan(self, label: str) -> Events:
        return Events.parse(self.tf("apply", "-input=false", "-json", "change.tfplan", label=f"{label}: apply").stdout)

    def assert_clean(self, label: str) -> None:
        result = self.tf("plan", "-input=false", "-no-color", "-detailed-exitcode", ok_codes=(0, 2), label=f"{label}: re-plan")
        assert result.returncode == 0, f"{label}: the plan after the apply is not empty:\n{result.stdout[-4000:]}"


def aws(endpoint: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s")


def environments(endpoint: str) -> dict[str, dict[str, Any]]:
    """This environment's compute environments by their Name tag (NAME-work, NAME-head)."""
    found: dict[str, dict[str, Any]] = {}
    for ce in aws(endpoint, "batch").describe_compute_environments()["computeEnvironments"]:
        tag = (ce.get("tags") or {}).get("Name", "")
        assert tag not in found, f"two compute environments tagged {tag}: {found[tag]['computeEnvironmentName']}, {ce['computeEnvironmentName']}"
        found[tag] = ce
    return found


def queue_environment(endpoint: str, queue: str) -> str:
    (q,) = aws(endpoint, "batch").describe_job_queues(jobQueues=[queue])["jobQueues"]
    (order,) = q["computeEnvironmentOrder"]
    return order["computeEnvironment"]


def assert_replaced_create_first(label: str, env: Environment, planned: dict[str, list[str]], replaced: set[str]) -> None:
    compute = {a: actions for a, actions in planned.items() if ".aws_batch_compute_environment." in a}
    assert compute == {a: ["create", "delete"] for a in replaced}, f"{label}: {planned}"
    for address in replaced:
        assert env.reasons[address] in ("replace_by_triggers", "replace_because_cannot_update"), env.reasons[address]
        assert planned.get(QUEUE_OF[address]) == ["update"], f"{label}: {QUEUE_OF[address]} is not moved in place: {planned}"
    first = {a: actions for a, actions in planned.items() if actions[0] == "delete"}
    assert not first, f"{label}: deleted before anything is created: {first}"


def assert_apply_order(label: str, events: Events, replaced: set[str]) -> None:
    for address in replaced:
        created = events.index("apply_complete", address, "create")
        moved_from = events.index("apply_start", QUEUE_OF[address], "update")
        moved = events.index("apply_complete", QUEUE_OF[address], "update")
        deleting = events.index("apply_start", address, "delete")
        assert created < moved_from and moved < deleting, f"{label}: {address} not create -> move queue -> delete: {events.items}"
    assert not [e for e in events.items if e[0] == "apply_errored"], events.items


CHANGES = [
    # (label, YAML under compute:, compute environments replaced)
    ("instance types", "instance_types: [m6i, c6i]\n", {WORK_CE}),
    ("allocation strategy", "instance_types: [m6i, c6i]\nallocation_strategy: SPOT_CAPACITY_OPTIMIZED\n", {WORK_CE}),
    ("AMI", "instance_types: [m6i, c6i]\nallocation_strategy: SPOT_CAPACITY_OPTIMIZED\nami_id: ami-0123456789abcdef0\n", {WORK_CE, HEAD_CE}),
    ("launch template", "instance_types: [m6i, c6i]\nallocation_strategy: SPOT_CAPACITY_OPTIMIZED\nami_id: ami-0123456789abcdef0\n"
     f"aws_cli:\n  url: {BUNDLE_URL}\n  sha256: {'ab' * 32}\n", {WORK_CE, HEAD_CE}),
]
# and, last, the subnets (a different subnet_ids list): both environments
STEPS = [*CHANGES, ("subnets", CHANGES[-1][1], {WORK_CE, HEAD_CE})]


# Two live environments side by side (each change builds on the one before; the second starts
# where the first stops): half the wall clock of one run through all five, the provider's waits
# against the emulator being most of it.
@pytest.mark.parametrize(("first", "last"), [(0, 3), (3, 5)], ids=["types-strategy-ami", "template-subnets"])
def test_changes_to_a_live_environment_replace_create_first(terraform, tmp_path, strict_batch, first, last):
    with MotoServer() as moto:
        url = moto.endpoint
        aws(url, "s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        subnets = sorted(s["SubnetId"] for s in aws(url, "ec2").describe_subnets()["Subnets"] if s.get("DefaultForAz"))
        assert len(subnets) >= 2
        env = Environment(tmp_path, terraform, url)
        env.render(subnets[0], STEPS[first - 1][1] if first else "")
        env.tf("init", "-input=false", "-no-color")
        env.plan("create")
        env.apply_plan("create")
        env.assert_clean("create")
        before = environments(url)
        assert set(before) == {f"{NAME}-work", f"{NAME}-head"}
        assert all(ce["computeEnvironmentName"].startswith("terraform-") for ce in before.values()), "the provider names them"

        for label, extra, replaced in STEPS[first:last]:
            env.render(subnets[1] if label == "subnets" else subnets[0], extra)
            planned = env.plan(label)
            assert_replaced_create_first(label, env, planned, replaced)
            events = env.apply_plan(label)
            assert_apply_order(label, events, replaced)
            env.assert_clean(label)

            after = environments(url)
            assert set(after) == {f"{NAME}-work", f"{NAME}-head"}, f"{label}: {sorted(after)}: an old environment is left"
            for address, tag, queue in ((WORK_CE, f"{NAME}-work", f"{NAME}-work"), (HEAD_CE, f"{NAME}-head", f"{NAME}-head")):
                new, old = after[tag], before[tag]
                assert queue_environment(url, queue) == new["computeEnvironmentArn"], f"{label}: {queue} is not on {tag}"
                assert new["state"] == "ENABLED" and new["status"] == "VALID"
                if address in replaced:
                    assert new["computeEnvironmentArn"] != old["computeEnvironmentArn"], f"{label}: {tag} was not replaced"
                else:
                    assert new["computeEnvironmentArn"] == old["computeEnvironmentArn"], f"{label}: {tag} was replaced needlessly"
            resources = after[f"{NAME}-work"]["computeResources"]
            if label == "instance types":
                assert sorted(resources["instanceTypes"]) == ["c6i", "m6i"]
            if label == "allocation strategy":
                assert resources["allocationStrategy"] == "SPOT_CAPACITY_OPTIMIZED"
            if label == "AMI":
                for ce in after.values():
                    assert ce["computeResources"]["ec2Configuration"][0]["imageIdOverride"] == "ami-0123456789abcdef0"
            if label == "launch template":
                # the new user-data reaches new instances: both environments launch from the latest
                # version of the template, and that version carries the new user-data
                ec2 = aws(url, "ec2")
                (template,) = ec2.describe_launch_templates(LaunchTemplateNames=[NAME])["LaunchTemplates"]
                latest = template["LatestVersionNumber"]
                assert latest >= 2
                (version,) = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"], Versions=[str(latest)])["LaunchTemplateVersions"]
                assert BUNDLE_URL in base64.b64decode(version["LaunchTemplateData"]["UserData"]).decode()
                for ce in after.values():
                    spec = ce["computeResources"]["launchTemplate"]
                    assert (spec["launchTemplateId"], spec["version"]) == (template["LaunchTemplateId"], str(latest))
            if label == "subnets":
                assert all(ce["computeResources"]["subnets"] == [subnets[1]] for ce in after.values())
            before = after

        destroyed = Events.parse(env.tf("destroy", "-input=false", "-auto-approve", "-json", label="destroy").stdout)
        assert_destroy_order(destroyed, [WORK_CE, HEAD_CE], [
            "module.iam.aws_iam_role_policy_attachment.instance[0]",
            "module.iam.aws_iam_role_policy_attachment.spot_fleet[0]",
            "module.iam.aws_iam_instance_profile.instance[0]",
            "module.iam.aws_iam_role.instance[0]",
            "module.iam.aws_iam_role.spot_fleet[0]",
            "module.compute.aws_launch_template.this",
        ])
        assert environments(url) == {}
        print("\n".join(f"{k:<32} {v:6.1f} s" for k, v in env.timings.items()))


def assert_destroy_order(events: Events, compute: list[str], after: list[str]) -> None:
    assert not [e for e in events.items if e[0] == "apply_errored"], events.items
    gone = max(events.index("apply_complete", address, "delete") for address in compute)
    for address in after:
        assert events.index("apply_start", address, "delete") > gone, f"{address} is destroyed before the compute environments are gone"


SERVICE_ROLE = """\
# The iam module's own Batch service role instead of the service-linked one.
module "iam" {
  create_batch_service_role = true
}

module "compute" {
  service_role_arn = module.iam.batch_service_role_arn
}
"""


def test_a_batch_service_role_outlives_its_compute_environments(terraform, tmp_path, strict_batch):
    """With a service role of its own (the iam module's create_batch_service_role), the role and
    its policy are destroyed only after the compute environments: strict_batch refuses to delete
    an environment whose service role has lost its policy, as AWS then leaves it in DELETING. A
    change of instance types is still a create-first replacement."""
    with MotoServer() as moto:
        url = moto.endpoint
        aws(url, "s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        subnet = sorted(s["SubnetId"] for s in aws(url, "ec2").describe_subnets()["Subnets"] if s.get("DefaultForAz"))[0]
        env = Environment(tmp_path, terraform, url, override=SERVICE_ROLE)
        env.render(subnet)
        env.tf("init", "-input=false", "-no-color")
        env.plan("create")
        env.apply_plan("create")
        env.assert_clean("create")
        role = aws(url, "iam").get_role(RoleName=f"{NAME}-batch-service")["Role"]["Arn"]
        assert {ce["serviceRole"] for ce in environments(url).values()} == {role}

        env.render(subnet, "instance_types: [m6i]\n")
        planned = env.plan("instance types")
        assert_replaced_create_first("instance types", env, planned, {WORK_CE})
        assert_apply_order("instance types", env.apply_plan("instance types"), {WORK_CE})
        env.assert_clean("instance types")

        destroyed = Events.parse(env.tf("destroy", "-input=false", "-auto-approve", "-json", label="destroy").stdout)
        assert_destroy_order(destroyed, [WORK_CE, HEAD_CE], [
            "module.iam.aws_iam_role_policy_attachment.batch_service[0]",
            "module.iam.aws_iam_role.batch_service[0]",
        ])
        assert environments(url) == {}
        print("\n".join(f"{k:<32} {v:6.1f} s" for k, v in env.timings.items()))
