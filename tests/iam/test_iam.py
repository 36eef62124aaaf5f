"""Issue 6: each actor its own identity, least privilege, proven by simulating every call.

The emulator test applies the IAM of every example (both credential types) on the embedded
emulator, reads the policies back from IAM with boto3 and evaluates tests/iam/catalogue.yaml
with @cloud-copilot/iam-simulate (``npm ci`` in tests/iam), and lints every policy with
parliament. The fast tests check the catalogue itself and what the rendered files say about
identities.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

import towergen
from conftest import emulator_for, workspace
from towergen import SpecError, load
from towergen.renderer.escape import hcl_unquote
from towergen.run.runner import terraform_init

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness
from conftest import EXAMPLES

NODE_MODULES = harness.HERE / "node_modules" / "@cloud-copilot" / "iam-simulate"


# Examples whose role variant trusts Seqera Cloud by name (trusted_principal: seqera-cloud); the
# others trust harness.TRUSTED_PRINCIPAL by ARN, so both forms are applied and evaluated.
NAMED_PRINCIPAL_EXAMPLES = ("fsx", "spot")


def variant(example: Path, kind: str, out: Path) -> Path:
    """The example with the platform's credentials of ``kind`` (user or role)."""
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    cred = dict(data.get("credentials") or {})
    if data.get("platform"):
        # platform.credentials decides: role (the platform's External ID: the emulator's stand-in),
        # or keys of the user towergen creates
        data["platform"] = {**data["platform"], "credentials": "role" if kind == "role" else "keys"}
        data["platform"].pop("trusted_principal_arn", None)
        if kind == "role":
            data["platform"]["trusted_principal_arn"] = harness.TRUSTED_PRINCIPAL
        cred.pop("type", None)
        cred.pop("role", None)
    elif kind == "role":
        cred.pop("create_user", None)
        cred.pop("user_name", None)
        cred["type"] = "role"
        if example.stem in NAMED_PRINCIPAL_EXAMPLES:
            cred["role"] = {"trusted_principal": "seqera-cloud", "external_id": harness.EXTERNAL_ID}
        else:
            cred["role"] = {"trusted_principal_arn": harness.TRUSTED_PRINCIPAL, "external_id": harness.EXTERNAL_ID}
    else:
        cred.pop("role", None)
        cred["type"] = "user"
        if data.get("mode", "forge") == "forge":
            # launch is the default; the user variants ask for forge, so both policies are evaluated
            cred["policy"] = "forge"
    data["credentials"] = cred
    path = out / f"{example.stem}-{kind}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# --- fast: the catalogue itself ----------------------------------------------------------------------


def test_catalogue_rows_are_complete_and_unique():
    cat = harness.load_catalogue()
    ids = [r["id"] for r in cat["rows"]]
    assert len(ids) == len(set(ids)), "row ids repeat"
    for row in cat["rows"]:
        assert row["actor"] in harness.ACTORS, row["id"]
        assert row["expect"] in ("allow", "deny"), row["id"]
        assert row.get("call") and row.get("source"), f"{row['id']}: every row names the call and its source"
        assert row["requests"], row["id"]
        for req in row["requests"]:
            assert 2 <= len(req) <= 3 and re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", req[0]), (row["id"], req)
        if "tradeoff" in row:
            assert len(row["tradeoff"]) > 40, f"{row['id']}: a trade-off says why"
    # every actor has calls it must make and calls it must not
    for actor in ("platform", "head_job", "compute_job", "instance"):
        kinds = {r["expect"] for r in cat["rows"] if r["actor"] == actor}
        assert kinds == {"allow", "deny"}, actor


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_catalogue_expands_for_every_example(example):
    env = load(example).env
    rows = harness.expand(harness.load_catalogue(), env, "123456789012", {"work_ce_arn": "arn:aws:batch:x"})
    assert not any("{" in p.resource for r in rows for p in r.parts)
    assert {r.actor for r in rows} >= {"platform", "head_job", "compute_job"}


# --- fast: what the rendered files say ------------------------------------------------------------------


def test_launch_template_requires_imdsv2_with_hop_limit_one():
    text = (Path(towergen.__file__).resolve().parent.parent / "modules" / "compute" / "main.tf").read_text()
    block = text[text.index("metadata_options {"):]
    block = block[: block.index("}")]
    assert re.search(r'http_tokens\s*=\s*"required"', block)
    assert re.search(r"http_put_response_hop_limit\s*=\s*1\n", block)


def test_an_instance_that_shuts_itself_down_is_terminated():
    """A failed boot step shuts the instance down (90-start-ecs.sh); the launch template makes
    that a termination, so no stopped instance lingers."""
    text = (Path(towergen.__file__).resolve().parent.parent / "modules" / "compute" / "main.tf").read_text()
    block = text[text.index('resource "aws_launch_template" "this"'):]
    block = block[: block.index("\n}\n")]
    assert re.search(r'instance_initiated_shutdown_behavior\s*=\s*"terminate"', block)


def _render(tmp_path, text: str) -> dict[str, str]:
    path = tmp_path / "env.yaml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = towergen.render([path], out)
    name = yaml.safe_load(text)["name"]
    return {p.name: p.read_text(encoding="utf-8") for p in (out / name).iterdir()} | {"_warnings": result.warnings}


BASE = """version: 1
name: acme
region: eu-west-1
work_dir: s3://acme-work/run
tags: {team: genomics}
"""


def test_with_account_id_the_files_name_the_roles(tmp_path):
    files = _render(tmp_path, BASE + "account_id: '123456789012'\n")
    platform = json.loads(files["platform-compute-env.json"])
    assert platform["headJobRole"] == "arn:aws:iam::123456789012:role/acme-head-job"
    assert platform["computeJobRole"] == "arn:aws:iam::123456789012:role/acme-compute-job"
    assert platform["labels"] == [{"name": "team", "value": "genomics", "resource": True}]
    assert "jobRole = 'arn:aws:iam::123456789012:role/acme-compute-job'" in files["nextflow.config"]
    assert 'allowed_account_ids = ["123456789012"]' in files["providers.tf"]
    assert "platform_compute_env_json" not in files["outputs.tf"]
    assert not any("account_id" in str(w) for w in files["_warnings"])


def _output_text(outputs_tf: str, name: str, arns: dict[str, str]) -> str:
    """What Terraform makes of an output written as join("\\n", [one quoted line per line]), with
    the job roles' ARNs in place of their references."""
    block = outputs_tf[outputs_tf.index(f'output "{name}"'):]
    body = block[block.index('join("\\n", [\n') + len('join("\\n", [\n'):block.index("\n  ])")]
    lines = []
    for literal in body.split("\n"):
        literal = literal.strip().removesuffix(",")
        for actor, arn in arns.items():
            literal = literal.replace("${module.iam." + actor + "_role_arn}", arn)
        lines.append(hcl_unquote(literal))
    return "\n".join(lines)


def test_without_account_id_the_files_are_not_written_and_the_outputs_are_them_complete(tmp_path):
    """Never a platform file or nextflow.config without job roles: without account_id neither is
    written, a warning names the outputs, and the outputs are exactly the files an account_id
    renders (the same text, the ARNs Terraform created in place)."""
    files = _render(tmp_path, BASE)
    assert "platform-compute-env.json" not in files and "nextflow.config" not in files
    assert "allowed_account_ids" not in files["providers.tf"]
    [warning] = [w for w in files["_warnings"] if w.path == "account_id"]
    assert "terraform output -raw platform_compute_env_json" in warning.message and "terraform output -raw nextflow_config" in warning.message
    (tmp_path / "named").mkdir()
    named = _render(tmp_path / "named", BASE + "account_id: '123456789012'\n")
    arns = {"head_job": "arn:aws:iam::123456789012:role/acme-head-job", "compute_job": "arn:aws:iam::123456789012:role/acme-compute-job"}
    platform = _output_text(files["outputs.tf"], "platform_compute_env_json", arns)
    assert platform == named["platform-compute-env.json"]
    assert json.loads(platform)["headJobRole"] == arns["head_job"]
    config = _output_text(files["outputs.tf"], "nextflow_config", arns)
    assert config == named["nextflow.config"] and f"jobRole = '{arns['compute_job']}'" in config


def test_pipeline_secrets_name_the_execution_role_in_both_forms(tmp_path):
    secrets = "credentials: {pipeline_secrets: true}\n"
    files = _render(tmp_path, BASE + secrets + "account_id: '123456789012'\n")
    assert json.loads(files["platform-compute-env.json"])["executionRole"] == "arn:aws:iam::123456789012:role/acme-execution"
    assert "pipeline_secrets = true" in re.sub(r" +", " ", files["main.tf"])
    (tmp_path / "later").mkdir()
    later = _render(tmp_path / "later", BASE + secrets)
    assert '\\"executionRole\\": \\"${module.iam.execution_role_arn}\\",' in later["outputs.tf"]
    plain = _render(tmp_path / "later", BASE)
    assert "executionRole" not in plain["outputs.tf"] and "pipeline_secrets" not in plain["main.tf"]


def test_seqera_cloud_is_trusted_by_name(tmp_path):
    files = _render(tmp_path, BASE + f"""credentials:
  type: role
  role:
    trusted_principal: seqera-cloud
    external_id: {harness.EXTERNAL_ID}
""")
    main = re.sub(r" +", " ", files["main.tf"])
    assert 'trusted_principal_arn = "arn:aws:iam::161471496260:role/SeqeraPlatformCloudAccessRole"' in main


def test_role_credentials_render_no_user_and_no_secret_input(tmp_path):
    files = _render(tmp_path, BASE + f"""credentials:
  type: role
  role:
    trusted_principal_arn: {harness.TRUSTED_PRINCIPAL}
    external_id: {harness.EXTERNAL_ID}
  ses_from_address: {harness.SES_FROM}
""")
    main = re.sub(r" +", " ", files["main.tf"])
    assert 'credentials_type = "role"' in main
    assert "create_user" not in main and "user_name" not in main
    assert f'external_id = "{harness.EXTERNAL_ID}"' in main
    assert f'ses_from_address = "{harness.SES_FROM}"' in main


@pytest.mark.parametrize(
    "extra, message",
    [
        ("credentials: {type: role}\n", "expected credentials.role"),
        ("credentials: {type: role, role: {external_id: abcd}}\n", "expected trusted_principal: seqera-cloud (Seqera Cloud) or trusted_principal_arn"),
        ("credentials: {type: role, role: {trusted_principal: seqera-cloud, trusted_principal_arn: 'arn:aws:iam::123456789012:root', external_id: abcd}}\n", "expected either trusted_principal or trusted_principal_arn"),
        ("credentials: {type: role, role: {trusted_principal: seqera-enterprise, external_id: abcd}}\n", "seqera-cloud"),
        ("credentials: {role: {trusted_principal_arn: 'arn:aws:iam::123456789012:root', external_id: abcd}}\n", "expected no role with type: user"),
        ("credentials: {type: role, user_name: x, role: {trusted_principal_arn: 'arn:aws:iam::123456789012:root', external_id: abcd}}\n", "expected no user_name with type: role"),
        ("credentials: {type: role, role: {trusted_principal_arn: 'arn:aws:iam::1234:root', external_id: abcd}}\n", "expected the ARN of an IAM principal"),
        ("credentials: {ses_from_address: not-an-address}\n", "expected an e-mail address"),
        ("account_id: 1234\n", "account_id"),
        ("credentials: {aws_managed_policies: true, policy: forge}\n", "expected aws_managed_policies only with the launch policy"),
    ],
)
def test_bad_credentials_are_refused_with_a_message(tmp_path, extra, message):
    path = tmp_path / "env.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load(path)
    assert message in str(info.value)


# --- emulator: every example, both credential types ------------------------------------------------


def _apply_iam(example: Path, kind: str, tmp_path: Path, terraform):
    import boto3

    path = variant(example, kind, tmp_path)
    env = load(path).env
    with workspace(path, "local") as ws, emulator_for(ws) as url:
        terraform_init(terraform, ws, lambda line: None)
        terraform.run("apply", "-input=false", "-no-color", "-auto-approve", "-target=module.iam", cwd=ws.root, extra_env=ws.terraform_env())
        session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name=env.region)
        iam = session.client("iam", endpoint_url=url)
        account = session.client("sts", endpoint_url=url).get_caller_identity()["Account"]
        actors = harness.read_actors(iam, env, account)
        extra = {"work_ce_arn": ""}
        if env.mode == "forge":
            batch = session.client("batch", endpoint_url=url)
            for ce in batch.describe_compute_environments()["computeEnvironments"]:
                if (ce.get("tags") or {}).get("Name") == f"{env.name}-work":  # the provider generates the name
                    extra["work_ce_arn"] = ce["computeEnvironmentArn"]
    return env, account, actors, extra


@pytest.mark.emulator
@pytest.mark.terraform
@pytest.mark.scanners
@pytest.mark.parametrize("kind", ["user", "role"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_call_of_the_catalogue_against_the_applied_policies(example, kind, tmp_path, terraform):
    assert NODE_MODULES.is_dir(), "run `npm ci` in tests/iam (the IAM simulator is a test tool)"
    assert shutil.which("node"), "Node.js is needed to run the IAM simulator"
    env, account, actors, extra = _apply_iam(example, kind, tmp_path, terraform)
    rows = harness.expand(harness.load_catalogue(), env, account, extra)
    facts = harness.evaluate(rows, actors, account)
    found = harness.problems(rows, actors, facts)
    found += harness.lint(actors, tmp_path)  # parliament on every policy, as IAM holds it
    counts = harness.summary(rows)
    print(f"{example.stem}/{kind}: {counts}, {sum(r.allowed == (r.expect == 'allow') for r in rows)} rows as expected")
    assert not found, "\n".join(found)


def test_security_doc_table_is_the_catalogue():
    doc = (harness.HERE.parent.parent / "docs" / "security.md").read_text(encoding="utf-8")
    assert harness.markdown_table() in doc, "run: python tests/iam/harness.py table"


@pytest.mark.scanners  # iam-simulate: npm ci in tests/iam (.ci/run)
def test_the_evaluation_catches_what_issue_6_found():
    """The old design, fed through the same evaluation: a head job with the instance role's
    permissions (no Batch) cannot submit, and a broad task policy is over-broad."""
    assert NODE_MODULES.is_dir(), "run `npm ci` in tests/iam (the IAM simulator is a test tool)"
    env = load(EXAMPLES[[p.stem for p in EXAMPLES].index("minimal")]).env
    account = "123456789012"
    rows = [r for r in harness.expand(harness.load_catalogue(), env, account, {"work_ce_arn": ""}) if r.actor in ("head_job", "compute_job")]
    broad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "logs:GetLogEvents"], "Resource": "*"}]}
    actors = {
        "head_job": harness.Actor(f"arn:aws:sts::{account}:assumed-role/minimal-instance/i-1", [{"name": "old-instance", "policy": broad, "aws_managed": False}]),
        "compute_job": harness.Actor(f"arn:aws:sts::{account}:assumed-role/minimal-compute-job/t", [{"name": "broad", "policy": broad, "aws_managed": False}]),
    }
    found = "\n".join(harness.problems(rows, actors, harness.evaluate(rows, actors, account)))
    assert "head.submit-task (head_job): MISSING" in found
    assert "head.register-job-definition (head_job): MISSING" in found
    assert "task.no-unlisted-bucket (compute_job): OVER-BROAD" in found
    assert 's3:GetObject on "*", but IAM can scope it' in found
    assert "grants logs:GetLogEvents, which no catalogue row of compute_job needs" in found
