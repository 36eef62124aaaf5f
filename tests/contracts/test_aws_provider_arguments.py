"""Every tree towergen renders, and every module it ships, is accepted by hashicorp/aws 5.100.0 and
6.69.1 alike: no argument, block or attribute either version lacks, every required argument, and
a version constraint that admits both.

The 6.x provider binary is not run here (it cannot be downloaded where the tests run); what 6.69.1
accepts comes from its CDK bindings (tools/derive_aws_provider_arguments.py ->
aws-provider-arguments.json). 5.100.0 is also run for real: terraform validate, plan and apply in
the terraform and emulator tiers. Default tier: no Terraform binary, a few seconds.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest
from provider_arguments import CONTRACT, Contract, admits, aws_constraints, check_text, check_tree

import towergen
from conftest import EXAMPLES, GOLDEN, ROOT

V5, V6 = "5.100.0", "6.69.1"
GITOPS = ROOT / "examples" / "gitops"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract.load()


def problems(text: str, contract: Contract) -> list[str]:
    return [f"{p.where}: {p.message}" for p in check_text(textwrap.dedent(text), "t.tf", contract)]


# --- the contract itself -----------------------------------------------------------------------------


def _derivation():
    spec = importlib.util.spec_from_file_location("derive", ROOT / "tools" / "derive_aws_provider_arguments.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contract_covers_exactly_the_types_towergen_uses(contract):
    """A type added to modules/, templates/ or examples/ without running the derivation again fails
    here (and the checker would report it as not covered)."""
    assert sorted(contract.types) == _derivation().used_types()
    assert contract.versions == [V5, V6]
    assert all(sorted(per_version) == [V5, V6] for per_version in contract.types.values())


def test_contract_shows_the_breaking_changes_of_6_0(contract):
    """What the 6.0 upgrade notes say, seen in the derived data: a derivation that read the wheels
    wrongly would not show these."""
    ce = contract.types["resource.aws_batch_compute_environment"]
    assert {"compute_environment_name", "compute_environment_name_prefix"} <= ce[V5]["attributes"]
    assert not {"compute_environment_name", "compute_environment_name_prefix"} & ce[V6]["attributes"]
    assert {"name", "name_prefix", "region"} <= ce[V6]["attributes"] and not {"name", "name_prefix"} & ce[V5]["attributes"]
    queue = contract.types["resource.aws_batch_job_queue"]
    assert "compute_environments" in queue[V5]["attributes"] and "compute_environments" not in queue[V6]["attributes"]
    assert "compute_environment_order" in queue[V5]["blocks"] & queue[V6]["blocks"]
    template = contract.types["resource.aws_launch_template"]
    for gone in ("elastic_gpu_specifications", "elastic_inference_accelerator"):
        assert gone in template[V5]["blocks"] and gone not in template[V6]["blocks"]
    provider = contract.types["provider"]
    for block in ("assume_role", "default_tags"):
        assert block in provider[V5]["blocks"] & provider[V6]["blocks"]
    assert "allowed_account_ids" in provider[V5]["attributes"] & provider[V6]["attributes"]
    assert "region" in contract.types["resource.aws_s3_bucket"][V6]["attributes"]


def test_contract_file_is_small_and_sorted():
    text = CONTRACT.read_text(encoding="utf-8")
    assert len(text) < 150_000
    import json

    data = json.loads(text)
    assert list(data["types"]) == sorted(data["types"])
    for per_version in data["types"].values():
        for spec in per_version.values():
            assert all(paths == sorted(paths) for paths in spec.values())


# --- the checker finds what each version rejects ---------------------------------------------------


def test_checker_finds_the_names_each_major_rejects(contract):
    found = problems('''
        resource "aws_batch_compute_environment" "a" {
          compute_environment_name_prefix = "x-"
          type                            = "MANAGED"
        }
        resource "aws_batch_compute_environment" "b" {
          name_prefix = "x-"
          type        = "MANAGED"
        }
        resource "aws_batch_job_queue" "q" {
          name                 = "q"
          state                = "ENABLED"
          priority             = 1
          compute_environments = ["arn"]
        }
        resource "aws_launch_template" "t" {
          elastic_gpu_specifications {
            type = "eg1.medium"
          }
        }
    ''', contract)
    assert found == [
        f"aws_batch_compute_environment.a: hashicorp/aws {V6} has no argument compute_environment_name_prefix",
        f"aws_batch_compute_environment.b: hashicorp/aws {V5} has no argument name_prefix",
        f"aws_batch_job_queue.q: hashicorp/aws {V6} has no argument compute_environments",
        f"aws_launch_template.t: hashicorp/aws {V6} has no argument elastic_gpu_specifications",
        f"aws_launch_template.t: hashicorp/aws {V6} has no argument elastic_gpu_specifications.type",
    ]


def test_checker_walks_nested_and_dynamic_blocks_and_skips_meta_arguments(contract):
    found = problems('''
        resource "aws_launch_template" "t" {
          count    = 1
          for_each = {}
          provider = aws.other
          name     = "t"

          block_device_mappings {
            device_name = "/dev/xvda"
            ebs {
              volume_size = 50
              volume_kind = "gp3"
            }
          }

          dynamic "tag_specifications" {
            for_each = ["instance"]
            content {
              resource_type = tag_specifications.value
              tags          = { "any key" = "x" }
              colour        = "red"
            }
          }

          lifecycle {
            create_before_destroy = true
            replace_triggered_by  = [terraform_data.x]
          }
          depends_on = [terraform_data.x]
        }
        resource "terraform_data" "x" {
          input = 1
        }
    ''', contract)
    assert found == [
        f"aws_launch_template.t: hashicorp/aws {v} has no argument block_device_mappings.ebs.volume_kind" for v in (V5, V6)
    ] + [
        f"aws_launch_template.t dynamic tag_specifications: hashicorp/aws {v} has no argument tag_specifications.colour" for v in (V5, V6)
    ]


def test_checker_finds_missing_required_arguments_and_blocks_written_as_arguments(contract):
    found = problems('''
        resource "aws_iam_role" "r" {
          name = "r"
        }
        resource "aws_batch_compute_environment" "c" {
          type = "MANAGED"
          compute_resources = {
            max_vcpus = 1
          }
        }
        data "aws_iam_policy_document" "d" {
          statement {
            principals {
              type = "Service"
            }
          }
        }
    ''', contract)
    assert f"aws_iam_role.r: assume_role_policy is required by hashicorp/aws {V6}" in found
    assert f"aws_batch_compute_environment.c: compute_resources is a block in hashicorp/aws {V5}, written here as an argument" in found
    assert f"data.aws_iam_policy_document.d: statement.principals.identifiers is required by hashicorp/aws {V5}" in found


def test_checker_finds_attributes_one_major_lacks_or_reads_differently(contract):
    found = problems('''
        data "aws_region" "r" {}
        resource "aws_s3_bucket" "b" {
          bucket = "b"
        }
        locals {
          a = aws_batch_compute_environment.c.compute_environment_name
          b = aws_batch_compute_environment.c[0].name
          c = data.aws_region.r.name
          d = aws_s3_bucket.b.region
          e = one(aws_batch_compute_environment.c[*].arn)
          f = data.aws_region.r.id
        }
    ''', contract)
    assert found == [
        f"aws_batch_compute_environment.c.compute_environment_name: hashicorp/aws {V6} has no attribute compute_environment_name on aws_batch_compute_environment",
        f"aws_batch_compute_environment.c.name: hashicorp/aws {V5} has no attribute name on aws_batch_compute_environment",
        "data.aws_region.r.name: deprecated in hashicorp/aws 6.0 (warns on every plan); use id, which both majors have (#42131)",
        "aws_s3_bucket.b.region: in hashicorp/aws 6.x the resource's own region argument, not the bucket's region; 5.x has no bucket_region (#42014)",
    ]


def test_checker_reports_types_outside_the_contract(contract):
    found = problems('''
        resource "aws_made_up_thing" "x" {}
        resource "random_id" "y" {}
        data "terraform_remote_state" "z" {
          backend = "s3"
        }
    ''', contract)
    assert found == [
        "aws_made_up_thing.x: type not in the contract: run tools/derive_aws_provider_arguments.py",
        "random_id.y: not an hashicorp/aws type: no contract covers it",
    ]


def test_checker_checks_the_provider_block(contract):
    assert problems('''
        provider "aws" {
          region              = "eu-west-1"
          allowed_account_ids = ["123456789012"]
          assume_role {
            role_arn     = "arn:aws:iam::123456789012:role/x"
            external_id  = "e"
            session_name = "s"
          }
          default_tags {
            tags = { team = "x" }
          }
        }
    ''', contract) == []
    assert problems('''
        provider "aws" {
          skip_get_ec2_platforms = true
        }
    ''', contract) == [f"provider.aws: hashicorp/aws {v} has no argument skip_get_ec2_platforms" for v in (V5, V6)]


@pytest.mark.parametrize(("constraint", "v5", "v6"), [
    (">= 5.100, < 7.0", True, True),
    (">= 5.100, < 6.0", True, False),
    ("~> 5.100", True, False),
    ("~> 6.0", False, True),
    (">= 6.28", False, True),
    ("~> 5.100.0", True, False),
    ("5.100.0", True, False),
    ("!= 6.69.1, >= 5.0", True, False),
    ("> 5.100.0", False, True),
])
def test_constraints(constraint, v5, v6):
    assert (admits(constraint, V5), admits(constraint, V6)) == (v5, v6)


def test_checker_rejects_a_constraint_that_excludes_either(contract):
    def constraint(version: str) -> list[str]:
        return problems(f'''
            terraform {{
              required_providers {{
                aws = {{
                  source  = "hashicorp/aws"
                  version = "{version}"
                }}
              }}
            }}
        ''', contract)

    assert constraint(">= 5.100, < 6.0") == [f"required_providers: hashicorp/aws '>= 5.100, < 6.0' excludes {V6}"]
    assert constraint(">= 6.28") == [f"required_providers: hashicorp/aws '>= 6.28' excludes {V5}"]
    assert constraint(">= 5.100, < 7.0") == []


# --- every tree towergen renders or ships ---------------------------------------------------------------

# Environment files that reach the template branches the examples do not: existing file system,
# existing bucket in forge mode, given network, DynamoDB lock and KMS, External ID, launch policy,
# no user, BEST_FIT, a custom AMI, a pinned AWS CLI bundle.
CORPUS = {
    "corpus-fsx-existing": """
        version: 1
        name: corpus-fsx-existing
        region: eu-west-1
        work_dir: s3://corpus-fsx-existing/work
        account_id: "123456789012"
        assume_role:
          role_arn: arn:aws:iam::123456789012:role/deploy
          external_id: ext-1
        backend:
          bucket: corpus-state
          lock:
            dynamodb_table: corpus-locks
          kms_key_id: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
        fsx:
          mount_path: /fsx
          dns_name: fs-0123456789abcdef0.fsx.eu-west-1.amazonaws.com
          mount_name: abcdefgh
        compute:
          provisioning: on-demand
          allocation_strategy: BEST_FIT
          ami_id: ami-0123456789abcdef0
          network:
            vpc_id: vpc-0123456789abcdef0
            subnet_ids: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]
            security_group_ids: [sg-0123456789abcdef0]
    """,
    "corpus-existing-bucket": """
        version: 1
        name: corpus-existing-bucket
        region: us-east-2
        work_dir: s3://corpus-existing-bucket
        storage:
          create_bucket: false
          allowed_buckets:
            - bucket: s3://corpus-refs
              access: read
        credentials:
          create_user: false
          policy: launch
          aws_managed_policies: true
        compute:
          instance_types: [m6i.large, c6i]
          cost_percentage: 70
          aws_cli:
            url: https://example.org/miniconda-awscli.tar.gz
            sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    """,
    "corpus-role-manual": """
        version: 1
        name: corpus-role-manual
        region: ap-southeast-2
        work_dir: s3://corpus-role-manual/work
        mode: manual
        manual:
          head_queue: h
          compute_queue: c
        credentials:
          type: role
          role:
            trusted_principal_arn: arn:aws:iam::161471496260:role/SeqeraPlatformCloudAccessRole
            external_id: ext-2
        storage:
          force_destroy: true
          lifecycle:
            expire_days: 0
            abort_incomplete_multipart_days: 0
    """,
}


@pytest.fixture(scope="module")
def rendered_corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    files = []
    for name, text in CORPUS.items():
        path = folder / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        files.append(path)
    out = folder / "infra"
    towergen.render(files, out)
    return out


@pytest.fixture(scope="module")
def rendered_gitops(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gitops") / "infra"
    towergen.render(sorted((GITOPS / "environments").glob("*/*.yaml")), out)
    return out


def _assert_clean(folder: Path, contract: Contract) -> None:
    found = check_tree(folder, contract)
    assert not found, "\n".join(str(p) for p in found)


def test_golden_trees(contract):
    assert len([p for p in GOLDEN.iterdir() if p.is_dir()]) >= 5
    _assert_clean(GOLDEN, contract)


def test_rendered_examples(contract, rendered_examples):
    _assert_clean(rendered_examples, contract)


def test_rendered_gitops_fleet(contract, rendered_gitops):
    _assert_clean(rendered_gitops, contract)


def test_rendered_corpus(contract, rendered_corpus):
    assert {p.name for p in rendered_corpus.iterdir() if (p / "main.tf").exists()} == set(CORPUS)
    _assert_clean(rendered_corpus, contract)


def test_modules_and_the_bootstrap_root(contract):
    """Every module (modules/state-bucket too, never rendered) and the gitops bootstrap root."""
    _assert_clean(ROOT / "modules", contract)
    _assert_clean(GITOPS / "bootstrap", contract)


def test_every_root_and_module_admits_both_majors_with_one_constraint(rendered_examples, rendered_corpus, rendered_gitops):
    """Each module and each rendered root says which hashicorp/aws it needs, and all say the same
    (the one string in templates/root/versions.tf.j2 and modules/*/versions.tf)."""
    folders = [ROOT / "modules", GITOPS / "bootstrap", GOLDEN, rendered_examples, rendered_corpus, rendered_gitops]
    constraints = {}
    for folder in folders:
        constraints.update(aws_constraints(folder))
    declaring = {Path(f).parent for f in constraints}
    for folder in folders:
        for main in folder.rglob("main.tf"):
            assert main.parent in declaring, f"{main.parent} does not say which hashicorp/aws it needs"
    assert set(constraints.values()) == {">= 5.100, < 7.0"}, constraints
    assert all(admits(c, V5) and admits(c, V6) for c in constraints.values())
    template = (ROOT / "templates" / "root" / "versions.tf.j2").read_text(encoding="utf-8")
    assert 'version = ">= 5.100, < 7.0"' in template
    assert len(EXAMPLES) >= 5
