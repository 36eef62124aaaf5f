"""The IAM module's policies against the rules of policy_rules.py, in the default tier (issue 18:
widening a policy was caught only by the slow tier's simulator). The last tests widen the module
the ways a careless change would, and check that the rules see each one."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import policy_rules as rules

MAIN = rules.MODULE / "main.tf"


def texts_with(main: str) -> list[str]:
    """The module's files, with main.tf replaced."""
    return [main if p.name == "main.tf" else p.read_text(encoding="utf-8") for p in sorted(rules.MODULE.glob("*.tf"))]


def add_statement(document: str, statement: str) -> list[str]:
    """The module with one more statement at the top of a policy document."""
    main = MAIN.read_text(encoding="utf-8")
    head = f'data "aws_iam_policy_document" "{document}" {{\n'
    assert head in main, document
    indented = "".join(f"  {line}\n" for line in statement.splitlines())
    return texts_with(main.replace(head, head + indented, 1))


def test_the_module_keeps_the_rules():
    assert rules.problems() == []


def test_every_actor_and_trust_is_found():
    """The rules speak only for documents they can attach to an actor: each actor of the
    catalogue must be found, or a new role would escape them."""
    use = rules.usage(rules.read_module(rules.module_texts()))
    actors = set().union(*use.actors.values())
    assert actors == {"platform", "head_job", "compute_job", "instance", "execution"}
    assert any("platform" in roles for roles in use.trusts.values())
    assert use.unknown == []


def test_the_documents_statements_are_read_whole():
    """A reader that missed statements would pass anything: the module's documents hold each
    kind of statement the rules read (plain, dynamic, from a local, on "*")."""
    m = rules.read_module(rules.module_texts())
    actions = {a for name in m.documents for st in rules.statements(m, name) for a in st.actions}
    assert {"s3:GetObject", "iam:PassRole", "sts:AssumeRole", "fsx:DescribeFileSystems", "ses:SendRawEmail", "ec2:CreateVolume"} <= actions


# --- the rules see each widening ---------------------------------------------------------------------


def test_an_action_outside_the_catalogue_is_refused():
    found = rules.problems(add_statement("forge", 'statement {\n  actions = ["batch:CreateComputeEnvironment"]\n  resources = ["arn:aws:batch:*:*:compute-environment/x"]\n}'))
    assert any("batch:CreateComputeEnvironment for platform, which no catalogue row of platform allows" in p for p in found), found


def test_an_action_of_another_actor_is_refused():
    """The platform may update queues; the head job may not (it reads the head_job document)."""
    found = rules.problems(add_statement("head_job", 'statement {\n  actions = ["batch:UpdateJobQueue"]\n  resources = local.queue_arns\n}'))
    assert any("batch:UpdateJobQueue for head_job" in p for p in found), found
    assert not any("for platform" in p for p in found)


def test_a_create_action_added_to_a_list_built_by_an_expression_is_refused():
    main = MAIN.read_text(encoding="utf-8")
    widened = main.replace('"ec2:DescribeVpcs",', '"ec2:DescribeVpcs",\n      "ec2:CreateLaunchTemplate",', 1)
    assert widened != main
    found = rules.problems(texts_with(widened))
    assert any("ec2:CreateLaunchTemplate for platform" in p for p in found), found


def test_wildcards_and_not_actions_are_refused():
    found = rules.problems(add_statement("buckets", 'statement {\n  actions = ["s3:*"]\n  resources = local.bucket_arns\n}'))
    assert any("wildcard action s3:*" in p for p in found), found
    found = rules.problems(add_statement("buckets", 'statement {\n  not_actions = ["s3:DeleteBucket"]\n  resources = ["*"]\n}'))
    assert any("not_actions in an Allow statement" in p for p in found), found


def test_an_action_on_star_that_iam_can_scope_is_refused():
    found = rules.problems(add_statement("follow_jobs", 'statement {\n  actions = ["s3:GetObject"]\n  resources = ["*"]\n}'))
    assert any('s3:GetObject on "*" for head_job' in p for p in found), found


def test_actions_from_a_variable_are_refused():
    found = rules.problems(add_statement("launch", 'statement {\n  actions = var.role_names\n  resources = ["*"]\n}'))
    assert any("actions read var.role_names" in p for p in found), found


@pytest.mark.parametrize(
    "resources, message",
    [
        ('["*"]', 'iam:PassRole on the pattern "*"'),
        ('["arn:${local.partition}:iam::${local.account}:role/*"]', "iam:PassRole on the pattern"),
        ('["arn:aws:iam::123456789012:role/other"]', "iam:PassRole on a literal ARN"),
        ("var.role_names", "iam:PassRole on var.role_names"),
    ],
    ids=["star", "pattern", "literal", "variable"],
)
def test_pass_role_only_on_the_modules_roles(resources, message):
    statement = (f'statement {{\n  actions = ["iam:PassRole"]\n  resources = {resources}\n  condition {{\n'
                 '    test = "StringEquals"\n    variable = "iam:PassedToService"\n    values = ["batch.amazonaws.com"]\n  }\n}')
    found = rules.problems(add_statement("launch", statement))
    assert any(message in p for p in found), found


def test_pass_role_widened_in_place_is_refused():
    main = MAIN.read_text(encoding="utf-8")
    widened = re.sub(r'(sid\s*=\s*"PassJobRoles"\s*\n\s*actions\s*=\s*\["iam:PassRole"\]\s*\n\s*resources\s*=\s*)local\.job_role_arns', r'\1["*"]', main)
    assert widened != main
    found = rules.problems(texts_with(widened))
    assert any('launch/PassJobRoles: iam:PassRole on the pattern "*"' in p for p in found), found


def _platform_trust(main: str) -> tuple[int, int]:
    start = main.index('data "aws_iam_policy_document" "platform_trust" {')
    return start, main.index("\n}\n", start) + 3


def test_the_platform_trust_needs_the_external_id():
    main = MAIN.read_text(encoding="utf-8")
    start, end = _platform_trust(main)
    trust = main[start:end]
    dropped = re.sub(r'\n\s*condition \{[^{}]*"sts:ExternalId"[^{}]*\}\n', "\n", trust)
    assert dropped != trust
    found = rules.problems(texts_with(main[:start] + dropped + main[end:]))
    assert any("the platform's trust allows sts:AssumeRole without an sts:ExternalId condition" in p for p in found), found
    loose = trust.replace('test     = "StringEquals"', 'test     = "StringLike"')
    assert loose != trust
    found = rules.problems(texts_with(main[:start] + loose + main[end:]))
    assert any("sts:ExternalId tested with StringLike" in p for p in found), found


def test_a_trust_for_anyone_is_refused():
    main = MAIN.read_text(encoding="utf-8")
    start, end = _platform_trust(main)
    trust = main[start:end]
    anyone = trust.replace("identifiers = [var.trusted_principal_arn]", 'identifiers = ["*"]')
    assert anyone != trust
    found = rules.problems(texts_with(main[:start] + anyone + main[end:]))
    assert any('a trust policy for the principal "*"' in p for p in found), found


def test_changes_the_rules_allow():
    """What the module may become without breaking a rule: sts:SetSourceIdentity beside
    sts:TagSession in the platform's trust, log groups written as ARNs ending in :*, an option's statement behind a
    variable."""
    main = MAIN.read_text(encoding="utf-8")
    start, end = _platform_trust(main)
    trust = main[start:end].replace('actions = ["sts:TagSession"]', 'actions = ["sts:TagSession", "sts:SetSourceIdentity"]')
    assert trust != main[start:end]
    main = main[:start] + trust + main[end:]
    main = main.replace('job_log_group = "${local.logs_arn}:log-group:/aws/batch/job"', 'job_log_group = "${local.logs_arn}:log-group:/aws/batch/job:*"')
    option = ('  dynamic "statement" {\n    for_each = var.ses_from_address != null ? [1] : []\n    content {\n'
              '      actions = ["logs:GetLogEvents"]\n      resources = ["${local.job_log_group}:log-stream:*"]\n    }\n  }\n')
    head = 'data "aws_iam_policy_document" "head_job" {\n'
    main = main.replace(head, head + option, 1)
    assert rules.problems(texts_with(main)) == []
