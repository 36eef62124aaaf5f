"""examples/platform.yaml on the embedded emulator (issue 16): the AWS part applies with
platform.tf left out (the seqera provider cannot run against moto, and is not available here),
and what Terraform made is what the platform would be given: the applied outputs equal
platform-compute-env.json and the seqera_aws_batch_ce config, field by field. About 1.5 minutes
(the compute environments and queues of a spot environment)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "contracts"))
import seqera_schema as ss
from test_platform_tf import CONFIG, OUTPUT_OF, _blocks, _doc

import towergen
from conftest import emulator_for, example, workspace
from towergen.decide.platform import SEQERA_CLOUD_PRINCIPAL
from towergen.renderer.environment import render_environment
from towergen.renderer.files import PLATFORM_JSON, PLATFORM_TF
from towergen.run.emulator import EMULATOR_EXTERNAL_ID, PLATFORM_STANDIN_FILE
from towergen.run.runner import terraform_init

pytestmark = [pytest.mark.emulator, pytest.mark.terraform]


def test_the_aws_part_applies_alone_and_its_outputs_are_what_the_platform_is_given(terraform):
    source = example("platform")
    loaded = towergen.load(source)
    files = render_environment(loaded.resolved)
    fields = json.loads(files[PLATFORM_JSON])
    (ce,) = _blocks(_doc(files[PLATFORM_TF]), "resource", "seqera_aws_batch_ce").values()
    config = {CONFIG[k]["api_name"]: v for k, v in ss.value_of(ce["config"]).items()}
    with workspace(source, "local") as ws, emulator_for(ws) as url:
        names = {p.name for p in ws.root.iterdir()}
        assert PLATFORM_TF not in names and PLATFORM_STANDIN_FILE in names
        terraform_init(terraform, ws, lambda line: None)
        terraform.run("apply", "-input=false", "-no-color", "-auto-approve", cwd=ws.root, extra_env=ws.terraform_env())
        outputs = json.loads(terraform.run("output", "-json", "-no-color", cwd=ws.root, extra_env=ws.terraform_env()).stdout)
        iam = boto3.client("iam", endpoint_url=url, region_name=loaded.env.region, aws_access_key_id="t", aws_secret_access_key="t")
        trust = iam.get_role(RoleName=loaded.resolved.roles["platform"])["Role"]["AssumeRolePolicyDocument"]
    for api, output in OUTPUT_OF.items():
        # the emulator's account is the example's account_id (123456789012): the ARNs are equal too
        assert outputs[output]["value"] == fields[api] == config[api], (api, outputs[output]["value"], fields[api], config[api])
    statements = trust["Statement"] if isinstance(trust["Statement"], list) else [trust["Statement"]]
    assert {s["Principal"]["AWS"] for s in statements} == {SEQERA_CLOUD_PRINCIPAL}
    assert {s["Condition"]["StringEquals"]["sts:ExternalId"] for s in statements if "Condition" in s} == {EMULATOR_EXTERNAL_ID}
