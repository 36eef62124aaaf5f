"""towergen/smoke_iam.py against moto in process: it passes on what the iam module makes and
fails on the mistakes issue 6 is about (hop limit 2, a role trusting the wrong principal, a
platform JSON naming a role that does not exist, an instance role with more than the ECS agent's
policy)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from towergen import load
from towergen.smoketest.identities import check_identities, check_metadata_options, check_shutdown_behavior
from towergen.smoketest.report import Checks

moto = pytest.importorskip("moto")

ECS_TASKS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
EC2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
PRINCIPAL = "arn:aws:iam::210987654321:role/tower-platform"


def platform_trust(principal=PRINCIPAL, external_id="tw-external-1", tag_session=True):
    statements = [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]
    if tag_session:
        statements.append({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:TagSession"})
    return {"Version": "2012-10-17", "Statement": statements}


ENV = f"""version: 1
name: acme
region: eu-west-1
work_dir: s3://acme-work/run
account_id: "123456789012"
compute: {{ebs_autoscale: false}}
credentials:
  type: role
  role: {{trusted_principal_arn: "{PRINCIPAL}", external_id: tw-external-1}}
"""


def build(tmp_path: Path, *, hop_limit=1, platform=None, compute_trust=ECS_TASKS, extra_instance_policy=False, head=True,
          profile=True, template=True):
    """What an apply would leave behind (as the iam and compute modules make it), with one mistake."""
    iam = boto3.client("iam", region_name="eu-west-1")
    if head:
        iam.create_role(RoleName="acme-head-job", AssumeRolePolicyDocument=json.dumps(ECS_TASKS))
    iam.create_role(RoleName="acme-compute-job", AssumeRolePolicyDocument=json.dumps(compute_trust))
    iam.create_role(RoleName="acme-platform", AssumeRolePolicyDocument=json.dumps(platform or platform_trust()))
    iam.create_role(RoleName="acme-instance", AssumeRolePolicyDocument=json.dumps(EC2))
    # Stand-ins named as the AWS managed policies: loading moto's ~1,000 managed policies costs
    # seconds per test, and the check reads names only (the emulator tests use the real ones).
    for name in ("AmazonEC2ContainerServiceforEC2Role",) + (("AmazonS3ReadOnlyAccess",) if extra_instance_policy else ()):
        arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecs:Poll", "Resource": "*"}]}))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName="acme-instance", PolicyArn=arn)
    resources: dict = {}
    if profile:
        arn = iam.create_instance_profile(InstanceProfileName="acme-instance")["InstanceProfile"]["Arn"]
        iam.add_role_to_instance_profile(InstanceProfileName="acme-instance", RoleName="acme-instance")
        resources["instanceRole"] = arn
    if template:
        made = boto3.client("ec2", region_name="eu-west-1").create_launch_template(
            LaunchTemplateName="acme",
            LaunchTemplateData={"MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": hop_limit, "HttpEndpoint": "enabled"}},
        )
        resources["launchTemplate"] = {"launchTemplateId": made["LaunchTemplate"]["LaunchTemplateId"]}
    env_file = tmp_path / "acme.yaml"
    env_file.write_text(ENV, encoding="utf-8")
    root = tmp_path / "root"
    root.mkdir()
    (root / "platform-compute-env.json").write_text(json.dumps({
        "headJobRole": "arn:aws:iam::123456789012:role/acme-head-job",
        "computeJobRole": "arn:aws:iam::123456789012:role/acme-compute-job",
    }))
    checks = Checks()
    work = {"computeResources": resources}  # the work compute environment, as Batch describes it
    check_identities(load(env_file), root, lambda service: boto3.client(service, region_name="eu-west-1"), checks, work)
    return checks


@pytest.fixture(autouse=True)
def aws(monkeypatch):
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with moto.mock_aws():
        yield


def test_what_the_modules_make_passes(tmp_path):
    checks = build(tmp_path)
    assert not checks.failed, checks.failed
    assert len(checks.passed) >= 12


def test_hop_limit_two_fails():
    checks = Checks()
    check_metadata_options({"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}, checks)
    assert any("hop limit is 1" in f for f in checks.failed), checks.failed
    checks = Checks()
    check_metadata_options({"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}, checks)
    assert any("IMDSv2" in f for f in checks.failed), checks.failed


def test_a_launch_template_that_stops_its_instances_fails():
    for data, ok in (({"InstanceInitiatedShutdownBehavior": "terminate"}, True), ({"InstanceInitiatedShutdownBehavior": "stop"}, False), ({}, False)):
        checks = Checks()
        check_shutdown_behavior(data, checks)
        assert (not checks.failed) == ok, (data, checks.failed)


def test_platform_role_without_tag_session_fails(tmp_path):
    checks = build(tmp_path, platform=platform_trust(tag_session=False))
    assert any("TagSession" in f for f in checks.failed), checks.failed


def test_platform_role_without_external_id_or_for_another_principal_fails(tmp_path):
    trust = platform_trust(principal="arn:aws:iam::999988887777:root", external_id="other")
    checks = build(tmp_path, platform=trust)
    assert any("is trusted by" in f and "acme-platform" in f for f in checks.failed), checks.failed
    assert any("External ID" in f for f in checks.failed), checks.failed


def test_job_role_trusting_ec2_fails(tmp_path):
    checks = build(tmp_path, compute_trust=EC2)
    assert any("acme-compute-job is trusted by ecs-tasks" in f for f in checks.failed), checks.failed


def test_instance_role_with_s3_fails(tmp_path):
    checks = build(tmp_path, extra_instance_policy=True)
    assert any("no other managed policy" in f for f in checks.failed), checks.failed


def test_platform_json_naming_a_missing_role_fails(tmp_path):
    checks = build(tmp_path, head=False)
    assert any("headJobRole names the role acme-head-job" in f for f in checks.failed), checks.failed


def test_a_missing_instance_role_or_launch_template_fails(tmp_path):
    """The checks of what the instances run with cannot be skipped by a role that is not there."""
    checks = build(tmp_path, profile=False, template=False)
    assert any("instance profile holds one role" in f for f in checks.failed), checks.failed
