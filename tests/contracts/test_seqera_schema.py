"""The Seqera provider's contract (seqera-provider-schema.json) and the checker built on it.

A hand-written configuration of every covered type, wired as a manually registered AWS Batch
environment (head and compute queues, the three roles, an S3 work dir, Wave/Fusion/NVMe), must
pass; each mutation of it must give exactly the problems the provider would raise at plan time.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import seqera_schema as ss

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ss.load_schema()


def _tool():
    path = ROOT / "tools" / "derive_seqera_provider_schema.py"
    spec = importlib.util.spec_from_file_location("derive_seqera_provider_schema", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


derive = _tool()


# The feature's target form: a role credential with a platform-generated External ID, whose
# trust policy the same apply writes (the provider's guide, without a cycle: the credential
# names the role by a local ARN, not by aws_iam_role's attribute), two labels, and the compute
# environment registered over queues and roles towergen made.
EXAMPLE = r'''
terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    seqera = {
      source  = "seqeralabs/seqera"
      version = "~> 0.42.0"
    }
  }
}

provider "seqera" {
  server_url = "https://api.cloud.seqera.io"
}

data "seqera_organization" "org" {
  name = "acme"
}

data "seqera_workspace" "ws" {
  org_id = data.seqera_organization.org.org_id
  name   = "genomics"
}

data "aws_caller_identity" "current" {}

locals {
  access_role_arn = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/towergen-t1-seqera"
}

resource "seqera_aws_credential" "t1" {
  name            = "towergen-t1"
  workspace_id    = data.seqera_workspace.ws.id
  mode            = "role"
  assume_role_arn = local.access_role_arn
  use_external_id = true
}

resource "aws_iam_role" "seqera_access" {
  name = "towergen-t1-seqera"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::161471496260:role/SeqeraPlatformCloudAccessRole" }
        Action    = "sts:AssumeRole"
        Condition = { StringEquals = { "sts:ExternalId" = seqera_aws_credential.t1.external_id } }
      },
      {
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::161471496260:role/SeqeraPlatformCloudAccessRole" }
        Action    = "sts:TagSession"
      },
    ]
  })
}

resource "seqera_labels" "owner" {
  workspace_id = data.seqera_workspace.ws.id
  name         = "owner"
  value        = "genomics-team"
  resource     = true
}

resource "seqera_labels" "run" {
  workspace_id = data.seqera_workspace.ws.id
  name         = "platform-run-id"
  value        = "$${workflowId}"
  resource     = true
  is_default   = false
}

resource "seqera_aws_batch_ce" "t1" {
  name           = "towergen-t1"
  description    = "Rendered by towergen from t1.yaml"
  workspace_id   = data.seqera_workspace.ws.id
  credentials_id = seqera_aws_credential.t1.credentials_id
  label_ids      = [seqera_labels.owner.label_id, seqera_labels.run.label_id]

  config = {
    region               = "eu-west-1"
    work_dir             = "s3://towergen-t1-work/work"
    head_queue           = "towergen-t1-head"
    compute_queue        = "towergen-t1-spot"
    head_job_role        = "arn:aws:iam::111111111111:role/towergen-t1-head-job"
    compute_job_role     = "arn:aws:iam::111111111111:role/towergen-t1-compute-job"
    execution_role       = "arn:aws:iam::111111111111:role/towergen-t1-execution"
    head_job_cpus        = 2
    head_job_memory_mb   = 4096
    enable_wave          = true
    enable_fusion        = true
    nvme_storage_enabled = true
    fusion_snapshots     = false
    log_group            = "/aws/batch/towergen-t1"
    pre_run_script       = "echo pre-run on $(hostname)"
    post_run_script      = "echo post-run"
    nextflow_config      = <<-EOT
      aws.region = "eu-west-1"
      process.resourceLabels = [project: "t1"]
    EOT
    environment = [
      { name = "NXF_OPTS", value = "-Xms1g -Xmx3g", head = true },
      { name = "TMPDIR", value = "/scratch", head = true, compute = true },
    ]
  }

  depends_on = [aws_iam_role.seqera_access]
}
'''


def problems(text: str) -> list[str]:
    return [str(p) for p in ss.check_hcl(text)]


def mutate(old: str, new: str) -> str:
    assert EXAMPLE.count(old) == 1, f"{old!r} is not one line of the example"
    return EXAMPLE.replace(old, new)


def test_the_contract_records_its_source():
    source = SCHEMA["source"]
    assert source["repository"] == "seqeralabs/terraform-provider-seqera"
    assert source["tag"] == "v0.42.0"
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert SCHEMA["provider"]["version"] == "0.42.0"
    assert SCHEMA["provider"]["registry_source"] == "seqeralabs/seqera"
    assert SCHEMA["provider"]["attributes"]["bearer_auth"]["env"] == "TOWER_ACCESS_TOKEN"
    assert "env" not in SCHEMA["provider"]["attributes"]["server_url"]


def test_the_contract_is_written_canonically():
    text = ss.SCHEMA_PATH.read_text(encoding="utf-8")
    assert text == derive.dumps(json.loads(text)), "regenerate it with tools/derive_seqera_provider_schema.py"


def test_every_validator_of_the_contract_is_judged_by_the_checker():
    kinds, customs = set(), set()
    for section in ("resources", "data_sources"):
        for spec in SCHEMA[section].values():
            for attr in spec["attributes"].values():
                for v in attr.get("validators", []) + attr.get("element_validators", []):
                    kinds.add(v["kind"])
                    if v["kind"] == "custom":
                        customs.add(v["name"])
    assert kinds <= set(ss.STANDARD) | {"custom", "not_null"}
    assert customs == set(SCHEMA["validators"])
    assert customs <= set(ss.CUSTOM), customs - set(ss.CUSTOM)
    for name, facts in SCHEMA["validators"].items():
        if ss.CUSTOM[name] is ss._requires_sibling_true:
            assert facts["rule"] == "RequiresSiblingBoolTrue" and facts["args"]["siblingAttr"]


def test_an_unjudged_validator_stops_the_checker():
    schema = json.loads(json.dumps(SCHEMA))
    schema["resources"]["seqera_labels"]["attributes"]["name"]["validators"] = [{"kind": "custom", "name": "NewRule"}]
    schema["validators"]["NewRule"] = {"file": "internal/validators/x.go"}
    with pytest.raises(ss.ContractError, match="NewRule"):
        ss.check_hcl('resource "seqera_labels" "x" {\n  workspace_id = 1\n  name = "ab"\n}\n', schema)


def test_the_manual_example_passes():
    assert problems(EXAMPLE) == []


def test_the_platform_import_fields_map_onto_config():
    """tw compute-envs export/import fields -> seqera_aws_batch_ce config arguments."""
    attrs = SCHEMA["resources"]["seqera_aws_batch_ce"]["attributes"]
    by_api = {a["api_name"]: p for p, a in attrs.items() if p.count(".") == 1 and "api_name" in a}
    expected = {
        "region": "config.region",
        "workDir": "config.work_dir",
        "headQueue": "config.head_queue",
        "computeQueue": "config.compute_queue",
        "headJobRole": "config.head_job_role",
        "computeJobRole": "config.compute_job_role",
        "executionRole": "config.execution_role",
        "cliPath": "config.cli_path",
        "headJobCpus": "config.head_job_cpus",
        "headJobMemoryMb": "config.head_job_memory_mb",
        "waveEnabled": "config.enable_wave",
        "fusion2Enabled": "config.enable_fusion",
        "nvnmeStorageEnabled": "config.nvme_storage_enabled",
        "fusionSnapshots": "config.fusion_snapshots",
        "logGroup": "config.log_group",
        "preRunScript": "config.pre_run_script",
        "postRunScript": "config.post_run_script",
        "nextflowConfig": "config.nextflow_config",
        "environment": "config.environment",
    }
    assert {k: by_api.get(k) for k in expected} == expected
    assert {attrs[f"config.environment.{n}"]["api_name"] for n in ("name", "value", "head", "compute")} == {"name", "value", "head", "compute"}
    # labels are no config field: seqera_labels resources, attached by label_ids
    assert "labels" not in by_api and attrs["label_ids"]["element_type"] == "int64"
    # the whole config object, and label_ids, replace the compute environment when changed
    assert attrs["config"]["requires_replace"] == "if_configured"
    assert attrs["label_ids"]["requires_replace"] == "if_configured"
    assert "requires_replace" not in attrs["name"] and "requires_replace" not in attrs["credentials_id"]


def test_import_ids_are_json_objects():
    res = SCHEMA["resources"]
    assert res["seqera_aws_batch_ce"]["import"]["fields"] == ["compute_env_id", "workspace_id"]
    assert res["seqera_aws_credential"]["import"]["fields"] == ["credentials_id", "workspace_id"]
    assert res["seqera_labels"]["import"]["supported"] is False


CE_MUTATIONS = [
    pytest.param(
        "  config = {\n", "  config {\n", ["config: is a nested attribute: write `config = { ... }`, not a block"],
        id="config-as-block",
    ),
    pytest.param(
        '    work_dir             = "s3://towergen-t1-work/work"\n', "",
        ["config.work_dir: missing required argument"], id="work-dir-missing",
    ),
    pytest.param(
        '"s3://towergen-t1-work/work"', '"s3://towergen-t1-work/work/"', ["config.work_dir: must not end with a slash"],
        id="work-dir-trailing-slash",
    ),
    pytest.param(
        '"s3://towergen-t1-work/work"', '"/fsx/towergen-t1/work"', ["config.work_dir: must be an s3:// URI"],
        id="work-dir-not-s3",
    ),
    pytest.param(
        "    enable_wave          = true\n", "",
        ["config.enable_fusion: When 'enable_fusion' is true, 'enable_wave' must also be set to true."], id="fusion-needs-wave",
    ),
    pytest.param(
        "    enable_fusion        = true\n", "    enable_fusion        = false\n",
        ["config.nvme_storage_enabled: When 'nvme_storage_enabled' is true, 'enable_fusion' must also be set to true."],
        id="nvme-needs-fusion",
    ),
    pytest.param(
        "    enable_fusion        = true\n    nvme_storage_enabled = true\n    fusion_snapshots     = false\n",
        "    fusion_snapshots     = true\n",
        ["config.fusion_snapshots: When 'fusion_snapshots' is true, 'enable_fusion' must also be set to true."],
        id="snapshots-need-fusion",
    ),
    pytest.param(
        '  name           = "towergen-t1"\n', '  name           = "towergen t1"\n',
        ["name: must match ^[a-zA-Z0-9_-]+$"], id="ce-name-pattern",
    ),
    pytest.param(
        '  name           = "towergen-t1"\n', f'  name           = "{"x" * 101}"\n',
        ["name: length must be at most 100 characters, got 101"], id="ce-name-length",
    ),
    pytest.param(
        "    head_queue           =", "    headQueue           =",
        [
            "config.headQueue: unknown argument ('headQueue' is the platform API's JSON name; the provider calls it 'head_queue')",
        ],
        id="api-name-headQueue",
    ),
    pytest.param(
        "    nvme_storage_enabled = true\n", "    nvnmeStorageEnabled = true\n",
        ["config.nvnmeStorageEnabled: unknown argument ('nvnmeStorageEnabled' is the platform API's JSON name; the provider calls it 'nvme_storage_enabled')"],
        id="api-name-nvnme",
    ),
    pytest.param(
        "{ name = \"NXF_OPTS\", value = \"-Xms1g -Xmx3g\", head = true }",
        "{ name = \"NXF_OPTS\", value = \"-Xms1g -Xmx3g\", target = \"head\" }",
        [
            "config.environment[0].target: unknown argument",
            "config.environment[0]: at least one of head or compute must be true",
        ],
        id="environment-target",
    ),
    pytest.param(
        "    head_job_cpus        = 2\n", '    head_job_cpus        = "two"\n', ['config.head_job_cpus: must be a number, got "two"'],
        id="cpus-not-a-number",
    ),
    pytest.param(
        "    head_job_cpus        = 2\n", "    head_job_cpus        = 1.5\n", ["config.head_job_cpus: must be a whole number"],
        id="cpus-fraction",
    ),
    pytest.param(
        "    enable_wave          = true\n", '    enable_wave          = "yes"\n',
        ['config.enable_wave: must be a bool, got "yes"', "config.enable_fusion: When 'enable_fusion' is true"],
        id="wave-not-a-bool",
    ),
    pytest.param(
        '    pre_run_script       = "echo pre-run on $(hostname)"\n', f'    pre_run_script       = "{"é" * 600}"\n',
        ["config.pre_run_script: is 1200 bytes; Seqera Platform Cloud rejects pre/post-run scripts above 1024 bytes (warning)"],
        id="pre-run-over-1024-bytes",
    ),
    pytest.param(
        '    post_run_script      = "echo post-run"\n', f'    post_run_script      = "{"x" * 1024}"\n', [],
        id="post-run-at-the-limit",
    ),
    pytest.param(
        "      aws.region = \"eu-west-1\"\n", "      aws.region = \"eu-west-1\"\n" + "      // padding\n" * 200, [],
        id="nextflow-config-has-no-size-warning",
    ),
    pytest.param(
        '  label_ids      = [seqera_labels.owner.label_id, seqera_labels.run.label_id]\n', '  label_ids      = ["owner"]\n',
        ['label_ids[0]: must be a number, got "owner"'], id="label-ids-are-numbers",
    ),
    pytest.param(
        '  description    = "Rendered by towergen from t1.yaml"\n', '  platform       = "aws-batch"\n',
        ["platform: is read-only (computed by the provider); it cannot be set"], id="platform-read-only",
    ),
    pytest.param(
        '    log_group            = "/aws/batch/towergen-t1"\n', '    storage_type = "efs"\n',
        ["config.storage_type: is deprecated"], id="deprecated-warns",
    ),
    pytest.param(
        '    work_dir             = "s3://towergen-t1-work/work"\n', "    work_dir             = var.work_dir\n", [],
        id="a-reference-is-not-judged",
    ),
    pytest.param(
        "    enable_wave          = true\n", "    enable_wave          = var.wave\n", [], id="an-unknown-sibling-is-not-judged",
    ),
    pytest.param(
        '"s3://towergen-t1-work/work"', '"s3://${var.bucket}/work/"', [], id="a-template-is-not-judged",
    ),
    pytest.param(
        '    compute_queue        = "towergen-t1-spot"\n',
        '    compute_queue        = "towergen-t1-spot"\n    forge = {\n      fargate_head_enabled = true\n      type = "EC2"\n      arm64_enabled = true\n    }\n',
        [
            "config.forge.max_cpus: must be set when config.forge is set (Not Null)",
            "config.forge: fargate_head_enabled = true requires forge type = \"SPOT\"",
        ],
        id="forge-rules",
    ),
    pytest.param(
        '    compute_queue        = "towergen-t1-spot"\n',
        '    compute_queue        = "towergen-t1-spot"\n    forge = {\n      type = "SPOT"\n      max_cpus = 64\n      arm64_enabled = true\n    }\n',
        ["config.forge.arm64_enabled: arm64_enabled = true requires fargate_head_enabled = true (Fargate for the head job)"],
        id="graviton-needs-fargate",
    ),
    pytest.param(
        "    enable_wave          = true\n",
        '    enable_wave          = false\n    forge = {\n      type = "SPOT"\n      max_cpus = 64\n      fargate_head_enabled = true\n      arm64_enabled = true\n    }\n',
        [
            "config.enable_fusion: When 'enable_fusion' is true, 'enable_wave' must also be set to true.",
            "config.forge.arm64_enabled: arm64_enabled = true requires enable_wave = true (Wave)",
        ],
        id="graviton-needs-wave",
    ),
    pytest.param(
        '    compute_queue        = "towergen-t1-spot"\n',
        '    compute_queue        = "towergen-t1-spot"\n    cli_path = "/opt/aws"\n    forge = {\n      type = "SPOT"\n      max_cpus = 64\n      efs_create = true\n      efs_id = "fs-1234"\n      dragen_ami_id = "ami-1"\n    }\n',
        [
            "config: cli_path must not be set when forge and enable_fusion are both on",
            "config: forge.dragen_ami_id is only applicable when forge.dragen_enabled is true",
            "config: forge.efs_create and forge.efs_id are mutually exclusive",
        ],
        id="forge-cli-path-dragen-efs",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CE_MUTATIONS)
def test_a_changed_compute_environment_gives_exactly_its_problems(old, new, expected):
    got = problems(mutate(old, new))
    assert len(got) == len(expected), got
    for want in expected:
        assert any(want in g for g in got), (want, got)


CREDENTIAL_MUTATIONS = [
    pytest.param(
        '  assume_role_arn = local.access_role_arn\n', '  secret_key = "' + "s" * 40 + '"\n',
        ["resource seqera_aws_credential.t1: access_key: is required when secret_key is set"], id="secret-without-access",
    ),
    pytest.param(
        '  assume_role_arn = local.access_role_arn\n', "",
        ["resource seqera_aws_credential.t1: set either assume_role_arn or both access_key and secret_key"], id="neither-keys-nor-role",
    ),
    pytest.param(
        '  assume_role_arn = local.access_role_arn\n', '  assume_role_arn = "arn:aws:iam::1234:role/x"\n',
        ["assume_role_arn: must match ^arn:aws:iam::[0-9]{12}:role/.+$"], id="role-arn-account",
    ),
    pytest.param(
        '  mode            = "role"\n', '  mode            = "assume"\n', ['mode: must be one of [\'keys\', \'role\'], got "assume"'],
        id="mode-values",
    ),
    pytest.param(
        '  name            = "towergen-t1"\n', '  name            = "t"\n', ["name: length must be between 2 and 99 characters, got 1"],
        id="credential-name-length",
    ),
    pytest.param(
        '  use_external_id = true\n', '  use_external_id = true\n  external_id = "abc"\n',
        ["external_id: is read-only"], id="external-id-is-output",
    ),
    pytest.param(
        '  assume_role_arn = local.access_role_arn\n', '  access_key = "XKIAABCDEFGHIJKLMNOP"\n  secret_key = "short"\n',
        [
            "access_key: must match ^(AKIA|ASIA|AIDA)[A-Z0-9]{16,}$",
            "secret_key: length must be at least 40 characters, got 5",
        ],
        id="keys-form",
    ),
    pytest.param(
        '  required_version = ">= 1.11"\n', '  required_version = ">= 1.5"\n', [], id="no-write-only-no-version-worry",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CREDENTIAL_MUTATIONS)
def test_a_changed_credential_gives_exactly_its_problems(old, new, expected):
    got = problems(mutate(old, new))
    assert len(got) == len(expected), got
    for want in expected:
        assert any(want in g for g in got), (want, got)


def test_write_only_keys_need_terraform_1_11():
    text = mutate('  assume_role_arn = local.access_role_arn\n', '  access_key = "AKIAABCDEFGHIJKLMNOP"\n  secret_key = var.secret\n')
    assert problems(text) == []
    got = problems(text.replace('required_version = ">= 1.11"', 'required_version = ">= 1.5"'))
    assert got == [
        "terraform: required_version: '>= 1.5' admits Terraform older than 1.11, which cannot send write-only arguments (resource seqera_aws_credential.t1 secret_key)"
    ]


LABEL_MUTATIONS = [
    pytest.param('  name         = "owner"\n', '  name         = "o"\n', ["name: label name must be 2-39 characters, got 1"], id="name-length"),
    pytest.param('  name         = "owner"\n', '  name         = "-owner-"\n', ["name: label name must be letters and digits"], id="name-pattern"),
    pytest.param(
        '  value        = "genomics-team"\n  resource     = true\n', '  value        = "genomics-team"\n  resource     = false\n',
        ["value: value can only be set when resource = true"], id="value-needs-resource",
    ),
    pytest.param('  value        = "genomics-team"\n', "", ["value: value is required when resource = true"], id="resource-needs-value"),
    pytest.param(
        '  value        = "genomics-team"\n', '  value        = "genomics--team"\n', ["value: label value must be 2-39 letters"],
        id="value-double-separator",
    ),
    pytest.param('  value        = "$${workflowId}"\n', '  value        = "${workflowId}"\n', ['value: a dynamic label value must be escaped for Terraform: write "$${workflowId}", not "${workflowId}"'], id="dynamic-unescaped"),
    pytest.param(
        '  resource     = true\n  is_default   = false\n', "  resource     = false\n  is_default   = true\n",
        [
            "resource seqera_labels.run: is_default: is_default can only be true when resource = true",
            "resource seqera_labels.run: value: value can only be set when resource = true",
        ],
        id="default-needs-resource",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), LABEL_MUTATIONS)
def test_a_changed_label_gives_exactly_its_problems(old, new, expected):
    got = problems(mutate(old, new))
    assert len(got) == len(expected), got
    for want in expected:
        assert any(want in g for g in got), (want, got)


def test_the_workspace_is_looked_up_by_organisation_id_and_name():
    # docs/index.md at v0.42.0 shows org_name/workspace_name; the data source has neither
    text = mutate(
        "  org_id = data.seqera_organization.org.org_id\n  name   = \"genomics\"\n",
        '  org_name       = "acme"\n  workspace_name = "genomics"\n',
    )
    assert problems(text) == [
        "data seqera_workspace.ws: org_name: unknown argument (did you mean 'name'?)",
        "data seqera_workspace.ws: workspace_name: unknown argument",
        "data seqera_workspace.ws: name: missing required argument",
        "data seqera_workspace.ws: org_id: missing required argument",
    ]


def test_the_provider_block_and_its_pin():
    assert problems(mutate('  server_url = "https://api.cloud.seqera.io"\n', '  token = "x"\n')) == [
        "provider seqera: token: unknown argument"
    ]
    wide = problems(mutate('      version = "~> 0.42.0"\n', '      version = "~> 0.42"\n'))
    assert len(wide) == 1 and "admits 0.43.0" in wide[0] and wide[0].endswith("(warning)")
    assert problems(mutate('      version = "~> 0.42.0"\n', '      version = "~> 0.41.0"\n')) == [
        "terraform: required_providers.seqera.version: '~> 0.41.0' does not admit 0.42.0, the version this contract was derived from"
    ]
    assert problems(mutate('      source  = "seqeralabs/seqera"\n', '      source  = "hashicorp/seqera"\n')) == [
        "terraform: required_providers.seqera.source: is 'hashicorp/seqera', not 'seqeralabs/seqera'"
    ]


def test_types_outside_the_contract():
    got = problems('resource "seqera_compute_env" "x" {}\nresource "seqera_aws_batch_compute_env" "y" {}\n')
    assert got[0].startswith("resource seqera_compute_env.x: seqera_compute_env exists in the provider but is not covered")
    assert got[1] == "resource seqera_aws_batch_compute_env.y: the provider has no resource seqera_aws_batch_compute_env (did you mean seqera_aws_compute_env?)"


def test_import_blocks():
    ok = 'import {\n  to = seqera_aws_batch_ce.t1\n  id = jsonencode({ compute_env_id = "4Hk2", workspace_id = 12 })\n}\n'
    assert problems(ok) == []
    assert problems('import {\n  to = seqera_aws_credential.t1\n  id = "{\\"credentials_id\\": \\"x\\", \\"workspace_id\\": 12}"\n}\n') == []
    assert problems('import {\n  to = seqera_aws_batch_ce.t1\n  id = "4Hk2"\n}\n') == [
        "import seqera_aws_batch_ce.t1: id: is not JSON; seqera_aws_batch_ce imports by a JSON object with ['compute_env_id', 'workspace_id']"
    ]
    assert problems('import {\n  to = seqera_aws_batch_ce.t1\n  id = jsonencode({ id = "4Hk2", workspace_id = "12" })\n}\n') == [
        "import seqera_aws_batch_ce.t1: id: has 'id', which the provider refuses (fields: ['compute_env_id', 'workspace_id'])",
        "import seqera_aws_batch_ce.t1: id: lacks 'compute_env_id'",
        "import seqera_aws_batch_ce.t1: id: workspace_id must be a JSON number (the workspace's numeric id)",
    ]
    assert problems('import {\n  to = seqera_labels.owner\n  id = "1"\n}\n')[0].startswith(
        "import seqera_labels.owner: the provider cannot import seqera_labels"
    )


@pytest.mark.parametrize(
    ("constraint", "version", "ok"),
    [
        ("~> 0.42", (0, 42, 0), True),
        ("~> 0.42", (0, 43, 0), True),
        ("~> 0.42", (1, 0, 0), False),
        ("~> 0.42.0", (0, 42, 9), True),
        ("~> 0.42.0", (0, 43, 0), False),
        (">= 0.42.0, < 0.43.0", (0, 42, 1), True),
        (">= 1.11", (1, 10, 99), False),
        ("!= 0.42.1, ~> 0.42.0", (0, 42, 1), False),
        ("0.42.0", (0, 42, 0), True),
    ],
)
def test_version_constraints(constraint, version, ok):
    assert ss.admits(constraint, version) is ok


# ---- the derivation's Go reader, on small sources --------------------------------------------


GO = '''package provider

import (
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"regexp"
)

// a comment with "quotes" and a `raw` one
func (r *XResource) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "first\\nline " + `raw\\n`,
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Required:    true,
				Description: `A ` + "`" + `name` + "`" + `.`,
				Validators: []validator.String{
					stringvalidator.UTF8LengthAtMost(100),
					stringvalidator.RegexMatches(regexp.MustCompile(`^[a-z]+$`), "must match pattern "+regexp.MustCompile(`^[a-z]+$`).String()),
					stringvalidator.OneOf("a", "b"),
				},
			},
			"list": schema.ListNestedAttribute{
				Optional: true,
				Computed: true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"on": schema.BoolAttribute{
							Optional: true,
							Default:  booldefault.StaticBool(false),
						},
					},
				},
			},
		},
	}
}
'''


def _schema_of(src: str):
    gf = derive.GoFile("x.go", src)
    return derive.schema_of(derive.Context(None, gf), "XResource")


def test_the_go_reader_understands_a_schema_literal():
    attrs, _ = _schema_of(GO)
    assert sorted(attrs) == ["list", "list.on", "name"]
    assert attrs["name"]["required"] is True and attrs["name"]["description"] == "A `name`."
    assert [v["kind"] for v in attrs["name"]["validators"]] == ["utf8_length", "regex", "one_of"]
    assert attrs["name"]["validators"][1]["pattern"] == "^[a-z]+$"
    assert attrs["list"]["type"] == "list_nested" and attrs["list.on"]["default"] is False


def test_the_go_reader_refuses_what_it_does_not_know():
    with pytest.raises(derive.DeriveError, match="unsupported attribute fields"):
        _schema_of(GO.replace("Optional: true,\n\t\t\t\tComputed: true,", "Optional: true,\n\t\t\t\tSomethingNew: true,"))
    with pytest.raises(derive.DeriveError, match="unsupported attribute type"):
        _schema_of(GO.replace("schema.BoolAttribute", "schema.FancyAttribute"))
    with pytest.raises(derive.DeriveError, match="plan modifiers this script does not know"):
        _schema_of(GO.replace("Required:    true,", "Required:    true,\n\t\t\t\tPlanModifiers: []planmodifier.String{custom.Whatever()},"))
    with pytest.raises(derive.DeriveError, match="unknown framework validator"):
        _schema_of(GO.replace("stringvalidator.OneOf", "stringvalidator.Brandnew"))


def test_the_go_tokenizer_decodes_strings():
    toks = derive.tokenize('x := "a\\tb\\u00e9\\x41" + `c\\n` // "no"\n/* `no` */ y')
    assert [t.text for t in toks if t.kind == "string"] == ["a\tb\u00e9A", "c\\n"]
    assert [t.text for t in toks if t.kind == "ident"] == ["x", "y"]


def test_the_docs_cross_check_catches_a_disagreement():
    doc = (
        "## Schema\n\n### Required\n\n- `name` (String) The name.\n\n### Optional\n\n- `list` (Attributes List) x\n\n"
        "<a id=\"nestedatt--list\"></a>\n### Nested Schema for `list`\n\nOptional:\n\n- `on` (Boolean) y\n"
    )
    attrs, _ = _schema_of(GO)
    derive.cross_check(attrs, derive.doc_paths(doc, "doc"), "doc")
    with pytest.raises(derive.DeriveError, match="name: required in Go, optional in the docs"):
        derive.cross_check(attrs, derive.doc_paths(doc.replace("### Required", "### Optional"), "doc"), "doc")
    with pytest.raises(derive.DeriveError, match="list.off: only in the docs"):
        derive.cross_check(attrs, derive.doc_paths(doc + "- `off` (Boolean) z\n", "doc"), "doc")
