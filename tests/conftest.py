from __future__ import annotations

import email
import json
import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

import pytest

import towergen
import towergen.api
from towergen.run.terraform import Terraform
from towergen.spec.model import bucket_of

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
GOLDEN = ROOT / "tests" / "golden"


def example(name: str) -> Path:
    return ROOT / "examples" / f"{name}.yaml"


@pytest.fixture(scope="session")
def terraform() -> Terraform:
    """The Terraform binary, with the offline provider mirror when TOWERGEN_PLUGIN_MIRROR names
    one (``.ci/run`` sets it on machines that have one). A missing binary is a failure, not a
    skip: the suite promises that Terraform checks the output."""
    return Terraform.discover()


@pytest.fixture(scope="session")
def rendered_examples(tmp_path_factory) -> Path:
    """Every example rendered together into one output tree."""
    out = tmp_path_factory.mktemp("examples") / "infra"
    towergen.render(EXAMPLES, out)
    return out


@pytest.fixture(scope="session")
def rendered_examples_aws(rendered_examples, tmp_path_factory) -> Path:
    """The examples' tree as an emulator run sees it: each platform.tf left out, its stand-in
    written (towergen.run.emulator.leave_out_platform). The seqera provider is not available
    here, and cannot run against an emulator: the AWS part is validated and planned alone, the
    platform file is checked against the provider's contract (tests/contracts/test_platform_tf.py)."""
    from towergen.run.emulator import leave_out_platform

    out = copy_tree(rendered_examples, tmp_path_factory.mktemp("examples-aws") / "infra")
    for root in out.iterdir():
        if root.is_dir() and root.name != "modules":
            leave_out_platform(root)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"))
    return dst


@pytest.fixture(autouse=True)
def _no_user_terraform_state(monkeypatch):
    # Tests never read the developer's AWS credentials or profile.
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


def make_manual_prerequisites(endpoint: str, env) -> None:
    """What manual mode expects to exist already: the work bucket and the two queues (on an
    unmanaged compute environment with its service role)."""
    import json

    import boto3

    aws = {"endpoint_url": endpoint, "region_name": env.region, "aws_access_key_id": "k", "aws_secret_access_key": "s"}
    boto3.client("s3", **aws).create_bucket(Bucket=bucket_of(env.work_dir), CreateBucketConfiguration={"LocationConstraint": env.region})
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = boto3.client("iam", **aws).create_role(RoleName="existing-batch-service", AssumeRolePolicyDocument=json.dumps(trust))
    batch = boto3.client("batch", **aws)
    ce = batch.create_compute_environment(
        computeEnvironmentName="existing", type="UNMANAGED", state="ENABLED", serviceRole=role["Role"]["Arn"]
    )
    for queue in (env.manual.head_queue, env.manual.compute_queue):
        batch.create_job_queue(
            jobQueueName=queue, state="ENABLED", priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}],
        )


# The slow tiers' longest tests, in wall-clock seconds measured here (2 cores, four to six workers; most of
# it the AWS provider's fixed waits against the emulator). Only the order of a run depends on them.
LONG_TESTS = {
    "test_changes_to_a_live_environment_replace_create_first[types-strategy-ami]": 294,
    "test_changes_to_a_live_environment_replace_create_first[template-subnets]": 207,
    "test_smoke_seed_spot_example_through_the_cli": 184,
    "test_the_example_copied_alone_works_as_its_readme_says": 181,
    "test_a_batch_service_role_outlives_its_compute_environments": 162,
    "test_smoke_fsx_example": 157,
    "test_smoke_dispose_false_refuses_destroy": 154,
    "test_the_aws_part_applies_alone_and_its_outputs_are_what_the_platform_is_given": 86,
    "test_every_example_plans_on_the_emulator_without_a_warning": 53,
    "test_aws_target_asks_then_applies_and_destroys_exactly_the_plan_it_showed": 50,
}


@pytest.hookimpl(trylast=True)  # after -m has deselected: the pairs are made of what runs
def pytest_collection_modifyitems(config, items):
    """Longest first, so that the long tests run side by side instead of queueing behind each
    other. .ci/run's slow tiers use ``--dist load --maxschedchunk 1``: pytest-xdist gives each of
    the W workers two consecutive tests, then one test at a time as workers free up; so the first
    2W places pair each of the W longest tests with one of the shortest."""
    items.sort(key=lambda item: -LONG_TESTS.get(item.name, 0))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers and any(item.name in LONG_TESTS for item in items) and len(items) >= 2 * workers:
        longest, shortest, rest = items[:workers], items[len(items) - workers:], items[workers:len(items) - workers]
        items[:] = [item for pair in zip(longest, shortest, strict=True) for item in pair] + rest


# --- running an environment as the library API does, with a handle on each step ------------------


@contextmanager
def workspace(source, target: str, *, out=None, endpoint: str | None = None):
    """The workspace the API would run ``source`` in on ``target`` (rendered into ``out`` first
    for aws, as ``towergen plan --target aws`` does)."""
    from towergen import api
    from towergen.run.targets import target_named

    chosen = target_named(target, endpoint=endpoint)
    subject = api.subject(source, render_into=(out or "infra") if not chosen.emulator else None)
    with chosen.workspace(subject) as ws:
        yield ws


@contextmanager
def emulator_for(ws):
    """The workspace's emulator running (its override written); yields its endpoint."""
    with ws.target.running(ws):
        yield ws.endpoint


def run(source, command: str, target: str, echo, *, endpoint: str | None = None, out=None):
    """``towergen COMMAND SOURCE --target TARGET`` through the library API."""
    return towergen.api.terraform(command, source, target=target, echo=echo, endpoint=endpoint, out=out)


# --- user-data as an instance gets it (an oracle independent of towergen's own grammar) ----------

SAMPLE_FSX = {"fsx_dns_name": "fs-0123456789abcdef0.fsx.eu-central-1.amazonaws.com", "fsx_mount_name": "abcdefgh"}


def user_data(tftpl: str, variables: dict[str, str] | None = None) -> str:
    """What the launch template holds once Terraform's templatefile has filled the template in:
    $${ and %%{ become ${ and %{, and each ${var} its value (build.check_template allows no other
    sequence, so this is the whole of templatefile's work here)."""
    variables = variables or {}
    out, i = [], 0
    while i < len(tftpl):
        if tftpl.startswith(("$${", "%%{"), i):
            out.append(tftpl[i + 1 : i + 3])
            i += 3
        elif tftpl.startswith("${", i):
            end = tftpl.index("}", i)
            out.append(variables[tftpl[i + 2 : end]])
            i = end + 1
        else:
            out.append(tftpl[i])
            i += 1
    return "".join(out)


def parts(text: str) -> list[tuple[str, str, str]]:
    """(file name, content type, script) of each part, as Python's email package reads them."""
    message = email.message_from_string(text)
    assert message.is_multipart() and message.get_content_type() == "multipart/mixed"
    return [
        (p.get_filename(), p.get_content_type(), p.get_payload(decode=True).decode("ascii"))
        for p in message.get_payload()
    ]


# --- a Terraform that replays what a real one printed (tests/fake_terraform) ---------------------

FAKE = Path(__file__).resolve().parent / "fake_terraform"


STREAMS = FAKE / "streams"



@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Use the fake Terraform; ``fake(*recordings)`` sets the calls it will answer, in order, and
    returns the log of the calls it got."""
    monkeypatch.setenv("TOWERGEN_TERRAFORM", str(FAKE / "terraform"))
    monkeypatch.delenv("TOWERGEN_PLUGIN_MIRROR", raising=False)
    log = tmp_path / "fake-terraform.log"
    monkeypatch.setenv("FAKE_TF_LOG", str(log))

    def scenario(*recordings: str) -> Path:
        log.unlink(missing_ok=True)
        monkeypatch.setenv("FAKE_TF_SCENARIO", ":".join(str(STREAMS / r) for r in recordings))
        return log

    return scenario


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]
