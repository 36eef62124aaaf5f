"""``towergen smoke``: the identities of an applied environment (issue 6).

Checked through the AWS API after apply: each actor's role exists and trusts exactly whom it
should, the instance role holds only what the ECS agent (and amazon-ebs-autoscale) need, the
launch template requires IMDSv2 and terminates an instance that shuts itself down, and the
platform's compute environment names roles that exist. What the policies allow is proven separately, call by call,
by tests/test_iam.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..loader.validate import Loaded
from ..renderer.files import PLATFORM_JSON
from ..run.emulator import EMULATOR_EXTERNAL_ID
from .report import Checks

ECS_INSTANCE_POLICY = "AmazonEC2ContainerServiceforEC2Role"


def policy_document(document: Any) -> Any:
    """A policy document as data, whether AWS gave it as JSON text, URL-encoded text or parsed."""
    if isinstance(document, str):
        text = document if document.lstrip().startswith("{") else unquote(document)
        try:
            return json.loads(text)
        except ValueError:
            return text
    return document


def _platform_trust(loaded: Loaded) -> tuple[str, str] | None:
    """Whom the platform role trusts, with which External ID (None: no platform role). With
    platform: the External ID is the emulator's stand-in for the one the platform generates."""
    principal = loaded.resolved.trusted_principal_arn
    if principal is None:
        return None
    if loaded.resolved.platform is not None:
        return principal, EMULATOR_EXTERNAL_ID
    role = loaded.env.credentials.role
    return (principal, role.external_id) if role is not None else None


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    st = doc.get("Statement", [])
    return st if isinstance(st, list) else [st]


def _principals(doc: dict[str, Any], kind: str) -> list[str]:
    out: list[str] = []
    for st in _statements(doc):
        value = (st.get("Principal") or {}).get(kind, [])
        out += value if isinstance(value, list) else [value]
    return sorted(out)


def _actions(statement: dict[str, Any]) -> list[str]:
    value = statement.get("Action", [])
    return value if isinstance(value, list) else [value]


def check_metadata_options(options: dict[str, Any], checks: Checks) -> None:
    """The launch template's instance metadata options (``MetadataOptions``, as EC2 describes
    them): IMDSv2 only, and the hop limit towergen sets."""
    checks.expect("the launch template requires IMDSv2 tokens", options.get("HttpTokens") == "required", options)
    checks.expect("the launch template's metadata hop limit is 1 (nothing on the instance needs more)", options.get("HttpPutResponseHopLimit") == 1, options)


def check_shutdown_behavior(data: dict[str, Any], checks: Checks) -> None:
    """An instance whose boot step failed shuts itself down: the launch template (``LaunchTemplateData``,
    as EC2 describes it) must make that a termination, not a stop."""
    behavior = data.get("InstanceInitiatedShutdownBehavior")
    checks.expect("the launch template terminates an instance that shuts itself down (a failed boot step)", behavior == "terminate", behavior)


def check_identities(loaded: Loaded, root: Path, client: Callable[[str], Any], checks: Checks,
                     work_environment: dict[str, Any] | None = None) -> None:
    """Add the identity checks to ``checks``. The instance role is found through the work
    compute environment (``work_environment``, as Batch describes it), not by names worked out
    again; the launch template's metadata options are checked with the launch template
    (``smoketest.aws``)."""
    env = loaded.env
    r = loaded.resolved
    name = env.name
    forge = r.forge
    names = r.roles
    iam = client("iam")
    roles: dict[str, dict[str, Any]] = {}
    for role in iam.list_roles()["Roles"]:
        roles[role["RoleName"]] = role

    def trust(role: str) -> dict[str, Any]:
        doc = policy_document(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])
        return doc if isinstance(doc, dict) else {}

    for role in (names["head_job"], names["compute_job"], *([r.execution_role] if r.execution_role else [])):
        if checks.expect(f"IAM role {role} exists", role in roles):
            doc = trust(role)
            checks.expect(f"{role} is trusted by ecs-tasks.amazonaws.com only", _principals(doc, "Service") == ["ecs-tasks.amazonaws.com"] and not _principals(doc, "AWS"), doc)

    trust_wanted = _platform_trust(loaded)
    if trust_wanted is not None:
        principal, external_id = trust_wanted
        role = names["platform"]
        if checks.expect(f"IAM role {role} exists", role in roles):
            doc = trust(role)
            checks.expect(f"{role} is trusted by {principal} only", set(_principals(doc, "AWS")) == {principal} and not _principals(doc, "Service"), doc)
            # AssumeRole only with the External ID; the platform's other statement is TagSession
            assume = [st for st in _statements(doc) if "sts:AssumeRole" in _actions(st)]
            ids = [((st.get("Condition") or {}).get("StringEquals") or {}).get("sts:ExternalId") for st in assume]
            checks.expect(f"{role} requires the External ID", bool(ids) and all(i == external_id for i in ids), ids)
            others = sorted({a for st in _statements(doc) if st not in assume for a in _actions(st)})
            checks.expect(f"{role} lets the platform tag its session (sts:TagSession) and nothing else", others == ["sts:TagSession"], others)
        users = [u["UserName"] for u in iam.list_users()["Users"] if u["UserName"].startswith(f"{name}-")]
        checks.expect("no IAM user (and no access key) for role credentials", not users, users)

    if forge:
        resources = (work_environment or {}).get("computeResources") or {}
        profile_arn = resources.get("instanceRole") or ""
        profiles = {p["Arn"]: p for p in iam.list_instance_profiles()["InstanceProfiles"]}
        profile_roles = [x["RoleName"] for x in profiles.get(profile_arn, {}).get("Roles", [])]
        if checks.expect("the work environment's instance profile holds one role", len(profile_roles) == 1, profile_arn or None):
            role = profile_roles[0]
            doc = trust(role)
            checks.expect(f"{role} is trusted by ec2.amazonaws.com only", _principals(doc, "Service") == ["ec2.amazonaws.com"], doc)
            attached = sorted(p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])
            checks.expect(f"{role} has {ECS_INSTANCE_POLICY} and no other managed policy", attached == [ECS_INSTANCE_POLICY], attached)
            inline = sorted(iam.list_role_policies(RoleName=role)["PolicyNames"])
            wanted = 1 if r.autoscale else 0
            checks.expect(f"{role} has {'one inline policy (EBS autoscale)' if wanted else 'no inline policy'}", len(inline) == wanted, inline)

    # The platform's compute environment: from the file (account_id) or from Terraform's output.
    platform: dict[str, Any] = {}
    path = root / PLATFORM_JSON
    if path.is_file():
        platform = json.loads(path.read_text(encoding="utf-8"))
    if "headJobRole" not in platform:
        state = root / "terraform.tfstate"
        if state.is_file():
            outputs = json.loads(state.read_text(encoding="utf-8")).get("outputs", {})
            value = (outputs.get("platform_compute_env_json") or {}).get("value")
            if value:
                platform = json.loads(value)
    arns = {r["Arn"] for r in roles.values()}
    for key, role in (("headJobRole", names["head_job"]), ("computeJobRole", names["compute_job"])):
        found = platform.get(key) or ""
        if path.is_file() and key in json.loads(path.read_text(encoding="utf-8")):
            # the file's ARN is in the file's account_id, which an emulator does not share
            ok = role in roles and found.split(":")[4] == env.account_id and found.endswith(f":role/{role}")
        else:
            ok = found in arns and found.endswith(f":role/{role}")
        checks.expect(f"the platform's {key} names the role {role}, which exists", ok, found)
