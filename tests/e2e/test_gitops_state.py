"""Remote state, accounts and roles: what towergen renders for a backend, account_id and
assume_role, who owns backend.tf, and that emulator runs never reach the real backend or account.

The fast tests check the rendered files and the ownership rules; the tests marked terraform and
emulator let Terraform itself read backend.tf (the S3 backend pointed at moto), write state into
a bucket, honour the lock file, and refuse the wrong account.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import hcl2
import pytest

import towergen
from conftest import emulator_for, run, workspace
from towergen.errors import OutputError, SpecError
from towergen.renderer.escape import hcl_unquote
from towergen.renderer.files import BACKEND_FILE, OWNER_MARK
from towergen.run.emulator import OVERRIDE_FILE, MotoServer, assumes_role, override_hcl

EMULATOR_ACCOUNT = "123456789012"  # moto's account for any credentials it does not know

BASE = """\
version: 1
name: {name}
region: eu-west-1
work_dir: s3://towergen-{name}-work/work
"""

FULL = """\
account_id: "{account}"
assume_role:
  role_arn: arn:aws:iam::{account}:role/towergen-deploy
  external_id: gitops-ci
  session_name: towergen-ci
backend:
  bucket: towergen-state-test
"""


def env_file(tmp_path: Path, name: str = "gitops-a", extra: str = "", account: str = "111111111111") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(BASE.format(name=name) + extra.format(account=account), encoding="utf-8")
    return path


def _unq(value):
    """python-hcl2's form made plain: strings unquoted, block labels too, its markers dropped."""
    if isinstance(value, str):
        return hcl_unquote(value) if value.startswith('"') else value
    if isinstance(value, list):
        return [_unq(v) for v in value]
    if isinstance(value, dict):
        return {_unq(k): _unq(v) for k, v in value.items() if not k.startswith("__")}
    return value


def parse(path: Path) -> dict:
    return _unq(hcl2.loads(path.read_text(encoding="utf-8")))


def backend_block(path: Path) -> dict:
    (terraform,) = parse(path)["terraform"]
    (backend,) = terraform["backend"]
    return backend["s3"]


def required_version(root: Path) -> str:
    (terraform,) = parse(root / "versions.tf")["terraform"]
    return terraform["required_version"]


# --- what is rendered ------------------------------------------------------------------------------


def test_backend_defaults(tmp_path):
    towergen.render([env_file(tmp_path, extra=FULL)], tmp_path / "out")
    root = tmp_path / "out" / "gitops-a"
    assert backend_block(root / BACKEND_FILE) == {
        "bucket": "towergen-state-test",
        "key": "towergen/gitops-a/terraform.tfstate",
        "region": "eu-west-1",
        "encrypt": True,
        "use_lockfile": True,
    }
    assert (root / BACKEND_FILE).read_text().startswith(OWNER_MARK)
    assert required_version(root) == ">= 1.10.0", "use_lockfile needs Terraform 1.10"


def test_backend_with_dynamodb_lock_key_region_and_kms(tmp_path):
    kms = "arn:aws:kms:eu-central-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    extra = textwrap.dedent(f"""\
        backend:
          bucket: acme-state
          region: eu-central-1
          key: teams/genomics/gitops-a.tfstate
          lock:
            dynamodb_table: terraform-locks
          kms_key_id: {kms}
        """)
    towergen.render([env_file(tmp_path, extra=extra)], tmp_path / "out")
    root = tmp_path / "out" / "gitops-a"
    assert backend_block(root / BACKEND_FILE) == {
        "bucket": "acme-state",
        "key": "teams/genomics/gitops-a.tfstate",
        "region": "eu-central-1",
        "encrypt": True,
        "kms_key_id": kms,
        "dynamodb_table": "terraform-locks",
    }
    assert required_version(root) == ">= 1.5.0"


def test_provider_block_has_account_guard_and_role(tmp_path):
    towergen.render([env_file(tmp_path, extra=FULL)], tmp_path / "out")
    (provider,) = parse(tmp_path / "out" / "gitops-a" / "providers.tf")["provider"]
    aws = provider["aws"]
    assert aws["allowed_account_ids"] == ["111111111111"]
    (role,) = aws["assume_role"]
    assert role == {
        "role_arn": "arn:aws:iam::111111111111:role/towergen-deploy",
        "external_id": "gitops-ci",
        "session_name": "towergen-ci",
    }


def test_without_those_keys_nothing_changes(tmp_path):
    towergen.render([env_file(tmp_path)], tmp_path / "out")
    root = tmp_path / "out" / "gitops-a"
    assert not (root / BACKEND_FILE).exists()
    providers = (root / "providers.tf").read_text()
    assert "allowed_account_ids" not in providers and "assume_role" not in providers
    assert required_version(root) == ">= 1.5.0"


def test_two_environments_never_share_a_state(tmp_path):
    key = "backend:\n  bucket: acme-state\n  key: shared/terraform.tfstate\n"
    a, b = env_file(tmp_path, "env-a", key), env_file(tmp_path, "env-b", key)
    with pytest.raises(SpecError) as err:
        towergen.render([a, b], tmp_path / "out")
    (problem,) = err.value.problems
    assert (problem.file, problem.line, problem.path) == (str(b), 7, "backend.key")
    assert "'shared/terraform.tfstate' in bucket acme-state" in problem.message and str(a) in problem.message
    assert not (tmp_path / "out").exists()
    other = env_file(tmp_path, "env-c", "backend:\n  bucket: other-state\n  key: shared/terraform.tfstate\n")
    towergen.render([a, other], tmp_path / "out")  # the same key in another bucket is another state


# --- who owns backend.tf ------------------------------------------------------------------------------


def test_towergen_backend_is_deleted_when_the_section_goes(tmp_path):
    spec, out = env_file(tmp_path, extra=FULL), tmp_path / "out"
    towergen.render([spec], out)
    again = towergen.render([spec], out)
    assert ("identical", f"gitops-a/{BACKEND_FILE}") in {(c.action, c.path) for c in again.changes}
    spec.write_text(BASE.format(name="gitops-a"))
    result = towergen.render([spec], out)
    assert ("delete", f"gitops-a/{BACKEND_FILE}") in {(c.action, c.path) for c in result.changes}
    assert not (out / "gitops-a" / BACKEND_FILE).exists()


def test_a_users_backend_is_never_overwritten(tmp_path):
    spec, out = env_file(tmp_path), tmp_path / "out"
    towergen.render([spec], out)
    mine = out / "gitops-a" / BACKEND_FILE
    mine.write_text('terraform {\n  backend "s3" {}\n}\n')
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    spec.write_text(BASE.format(name="gitops-a") + FULL.format(account="111111111111") + "tags: {team: x}\n")
    with pytest.raises(OutputError, match="towergen did not write it"):
        towergen.render([spec], out)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before, "nothing was written"
    assert not list(out.glob(".towergen-*"))


# --- emulator runs keep away from the real backend and account -----------------------------------------


def test_emulator_workspace_has_no_backend(tmp_path):
    spec = env_file(tmp_path, extra=FULL)
    with workspace(spec, "local") as ws:
        assert not (ws.root / BACKEND_FILE).exists()
        assert (ws.root / "main.tf").exists()
    towergen.render([spec], tmp_path / "out")
    with workspace(tmp_path / "out" / "gitops-a", "local") as ws:
        assert not (ws.root / BACKEND_FILE).exists()
        with emulator_for(ws) as endpoint:
            override = (ws.root / OVERRIDE_FILE).read_text()
    assert 'backend "local" {}' in override
    assert f'"arn:aws:iam::{EMULATOR_ACCOUNT}:role/towergen-emulator"' in override
    assert "111111111111" not in override and endpoint in override


def test_override_strips_the_account_guard_and_replaces_the_role():
    plain = _unq(hcl2.loads(override_hcl("http://127.0.0.1:1")))
    (terraform,) = plain["terraform"]
    assert terraform["backend"] == [{"local": {}}]
    (provider,) = plain["provider"]
    assert provider["aws"]["allowed_account_ids"] is None
    assert "assume_role" not in provider["aws"]
    (provider,) = _unq(hcl2.loads(override_hcl("http://127.0.0.1:1", role_account="000000000000")))["provider"]
    (role,) = provider["aws"]["assume_role"]
    assert role["role_arn"] == "arn:aws:iam::000000000000:role/towergen-emulator"


def test_assumes_role_reads_the_provider_block(tmp_path):
    towergen.render([env_file(tmp_path, "with-role", FULL), env_file(tmp_path, "without")], tmp_path / "out")
    assert assumes_role(tmp_path / "out" / "with-role")
    assert not assumes_role(tmp_path / "out" / "without")


# --- Terraform and the provider against moto ------------------------------------------------------------


@pytest.mark.terraform
def test_rendered_files_are_fmt_clean(terraform, tmp_path):
    kms = "arn:aws:kms:eu-west-1:111111111111:alias/state"
    dynamo = f"backend:\n  bucket: acme-state\n  lock:\n    dynamodb_table: locks\n  kms_key_id: {kms}\n"
    towergen.render([env_file(tmp_path, "with-all", FULL), env_file(tmp_path, "with-dynamo", dynamo)], tmp_path / "out")
    for name in ("with-all", "with-dynamo"):
        assert (tmp_path / "out" / name / BACKEND_FILE).exists()
    result = terraform.run("fmt", "-check", "-recursive", "-list=true", "-no-color", str(tmp_path / "out"), cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout


def _offline(monkeypatch):
    """Any request that is not to the emulator on loopback fails: a call to AWS would show."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.mark.terraform
@pytest.mark.emulator
def test_plan_on_the_emulator_with_backend_role_and_account(tmp_path, monkeypatch):
    """towergen plan on the embedded emulator: the backend, the role and the account guard of the
    file are kept away from the run, which needs nothing but the emulator."""
    _offline(monkeypatch)
    lines: list[str] = []
    outcome = run(env_file(tmp_path, extra=FULL), "plan", "local", lines.append)
    text = "\n".join(lines)
    assert outcome.exit_code == 2, text
    assert outcome.summary.get("add", 0) >= 10, text
    assert "create     module.iam.aws_iam_user.this[0]" in text


# The provider override of the two tests below: the emulator's endpoints and fake credentials,
# but the root's allowed_account_ids and assume_role left as rendered.
RAW_OVERRIDE = """\
provider "aws" {{
  access_key                  = "towergen-emulator"
  secret_key                  = "towergen-emulator"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}
"""


def _raw_override(root: Path, endpoint: str) -> None:
    endpoints = "\n".join(f'    {s} = "{endpoint}"' for s in ("batch", "ec2", "fsx", "iam", "s3", "ssm", "sts"))
    (root / OVERRIDE_FILE).write_text(RAW_OVERRIDE.format(endpoints=endpoints))


@pytest.mark.terraform
@pytest.mark.emulator
def test_the_wrong_account_is_refused_before_any_change(terraform, tmp_path, monkeypatch):
    _offline(monkeypatch)
    spec = env_file(tmp_path, extra='account_id: "111111111111"\n')
    towergen.render([spec], tmp_path / "out")
    root = tmp_path / "out" / "gitops-a"
    with MotoServer() as moto:
        _raw_override(root, moto.endpoint)
        terraform.run("init", "-input=false", "-no-color", cwd=root)
        result = terraform.run("plan", "-input=false", "-no-color", cwd=root, check=False)
    assert result.returncode == 1
    assert "AWS account ID not allowed" in result.stdout and EMULATOR_ACCOUNT in result.stdout, result.stdout


def _backend_to_moto(root: Path, endpoint: str) -> None:
    """A -backend-config file that moves the S3 backend's endpoints to moto; the rendered
    backend.tf stays as it is."""
    (root / "emulator.s3.tfbackend").write_text(textwrap.dedent(f"""\
        endpoints                   = {{ s3 = "{endpoint}", sts = "{endpoint}", dynamodb = "{endpoint}" }}
        use_path_style              = true
        access_key                  = "towergen-emulator"
        secret_key                  = "towergen-emulator"
        skip_credentials_validation = true
        skip_requesting_account_id  = true
        skip_metadata_api_check     = true
        """))


@pytest.mark.terraform
@pytest.mark.emulator
def test_state_lands_in_the_s3_backend_on_moto(terraform, tmp_path, monkeypatch):
    """The rendered backend.tf, as it is, with only the S3 endpoint moved to moto (a
    -backend-config file): init reads it, an apply writes encrypted state into the bucket through
    the role the file names, and a held lock file stops the next run."""
    import boto3

    _offline(monkeypatch)
    spec = env_file(tmp_path, extra=FULL, account=EMULATOR_ACCOUNT)
    towergen.render([spec], tmp_path / "out")
    root = tmp_path / "out" / "gitops-a"
    key = "towergen/gitops-a/terraform.tfstate"
    with MotoServer() as moto:
        s3 = boto3.client("s3", endpoint_url=moto.endpoint, region_name="eu-west-1",
                          aws_access_key_id="k", aws_secret_access_key="s")
        s3.create_bucket(Bucket="towergen-state-test", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        _backend_to_moto(root, moto.endpoint)
        _raw_override(root, moto.endpoint)
        init = terraform.run("init", "-input=false", "-no-color", "-backend-config=emulator.s3.tfbackend", cwd=root)
        assert 'Successfully configured the backend "s3"' in init.stdout
        terraform.run("apply", "-input=false", "-no-color", "-auto-approve", "-target=module.iam.aws_iam_user.this[0]", cwd=root)

        head = s3.head_object(Bucket="towergen-state-test", Key=key)
        assert head["ServerSideEncryption"] == "AES256", "encrypt = true"
        state = json.loads(s3.get_object(Bucket="towergen-state-test", Key=key)["Body"].read())
        users = [r for r in state["resources"] if r["type"] == "aws_iam_user"]
        assert users and users[0]["instances"][0]["attributes"]["arn"].startswith(f"arn:aws:iam::{EMULATOR_ACCOUNT}:user/")
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="towergen-state-test")["Contents"]]
        assert listed == [key], "the lock file is released after the run"

        s3.put_object(Bucket="towergen-state-test", Key=key + ".tflock",
                      Body=json.dumps({"ID": "held-by-another-run", "Operation": "OperationTypeApply",
                                       "Who": "someone@elsewhere", "Version": "1.11.0", "Path": key}).encode())
        held = terraform.run("plan", "-input=false", "-no-color", "-lock-timeout=0s", cwd=root, check=False)
        assert held.returncode == 1 and "Error acquiring the state lock" in held.stdout, held.stdout


@pytest.mark.terraform
@pytest.mark.emulator
def test_dynamodb_lock_and_kms_key_on_moto(terraform, tmp_path, monkeypatch):
    """The other backend form: a DynamoDB lock table and a KMS key. The state is encrypted with
    that key, and the table holds the state's digest item (the S3 backend's DynamoDB use)."""
    import boto3

    _offline(monkeypatch)
    aws = {"region_name": "eu-west-1", "aws_access_key_id": "k", "aws_secret_access_key": "s"}
    with MotoServer() as moto:
        s3 = boto3.client("s3", endpoint_url=moto.endpoint, **aws)
        s3.create_bucket(Bucket="towergen-state-test", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        dynamodb = boto3.client("dynamodb", endpoint_url=moto.endpoint, **aws)
        dynamodb.create_table(TableName="terraform-locks", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}])
        kms = boto3.client("kms", endpoint_url=moto.endpoint, **aws).create_key()["KeyMetadata"]["Arn"]
        extra = f"backend:\n  bucket: towergen-state-test\n  lock:\n    dynamodb_table: terraform-locks\n  kms_key_id: {kms}\n"
        towergen.render([env_file(tmp_path, extra=extra)], tmp_path / "out")
        root = tmp_path / "out" / "gitops-a"
        key = "towergen/gitops-a/terraform.tfstate"
        _backend_to_moto(root, moto.endpoint)
        _raw_override(root, moto.endpoint)
        terraform.run("init", "-input=false", "-no-color", "-backend-config=emulator.s3.tfbackend", cwd=root)
        terraform.run("apply", "-input=false", "-no-color", "-auto-approve", "-target=module.iam.aws_iam_user.this[0]", cwd=root)
        head = s3.head_object(Bucket="towergen-state-test", Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", kms)
        items = dynamodb.scan(TableName="terraform-locks")["Items"]
        assert [i["LockID"]["S"] for i in items] == [f"towergen-state-test/{key}-md5"], "the lock was taken and released"
