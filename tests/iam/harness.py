"""Evaluate tests/iam/catalogue.yaml against the IAM policies of one applied environment.

The policies are read back from AWS (the emulator) with boto3, exactly as IAM holds them; the
evaluation is @cloud-copilot/iam-simulate's (tests/iam/simulate.mjs, run by Node). Nothing here
decides whether a request is allowed.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from towergen.decide.resolved import resolve
from towergen.run.emulator import EMULATOR_EXTERNAL_ID
from towergen.spec.model import Environment, bucket_of
from towergen.spec.regions import REGIONS

HERE = Path(__file__).resolve().parent
CATALOGUE = HERE / "catalogue.yaml"
SIMULATE = HERE / "simulate.mjs"

INSTANCE = "i-0a1b2c3d4e5f60001"
OTHER_INSTANCE = "i-0a1b2c3d4e5f60002"
TRUSTED_PRINCIPAL = "arn:aws:iam::210987654321:role/tower-platform"
EXTERNAL_ID = "tw-0a1b2c3d-external"
SES_FROM = "tower@pipelines.example.org"
ACTORS = ("platform", "head_job", "compute_job", "instance", "execution", "platform_trust")


def load_catalogue() -> dict[str, Any]:
    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


@dataclass
class Bucket:
    name: str
    read_only: bool
    external: bool = False
    kms_key: str | None = None


def buckets(env: Environment) -> list[Bucket]:
    """The buckets as the environment grants them: the work bucket first (read-write), then
    storage.allowed_buckets, then storage.external_buckets (outside the account, read only)."""
    out: list[Bucket] = []
    work_bucket = bucket_of(env.work_dir)
    if work_bucket:
        out.append(Bucket(work_bucket, False, kms_key=env.storage.kms_key_arn))
    for item in env.storage.allowed_buckets:
        if item.name not in {b.name for b in out}:
            out.append(Bucket(item.name, item.access == "read", kms_key=item.kms_key_arn))
    for external in env.storage.external_buckets:
        if external.name not in {b.name for b in out}:
            out.append(Bucket(external.name, True, external=True, kms_key=external.kms_key_arn))
    return out


def credentials_type(env: Environment) -> str:
    """How the platform signs in (the test's own reading): with platform:, platform.credentials
    decides (role, or keys of the user), else credentials.type."""
    if env.platform is not None:
        return "role" if env.platform.credentials == "role" else "user"
    return env.credentials.type


def bucket_kinds(env: Environment) -> dict[str, list[dict[str, str]]]:
    """What a row's ``each`` repeats over, as the placeholders of each repetition: bucket (this
    account's), rw, ro (this account's read-only), ext (outside the account); kms_rw, kms_ro
    (buckets with a customer managed key that are written, or only read, here), kms_own (this
    account's buckets with a key: what the platform uses)."""
    def fill(b: Bucket) -> dict[str, str]:
        out = {"bucket": b.name}
        if b.kms_key:
            out |= {"kms_key": b.kms_key, "kms_region": b.kms_key.split(":")[3]}
        return out

    all_ = buckets(env)
    return {
        "bucket": [fill(b) for b in all_ if not b.external],
        "rw": [fill(b) for b in all_ if not b.read_only],
        "ro": [fill(b) for b in all_ if b.read_only and not b.external],
        "ext": [fill(b) for b in all_ if b.external],
        "kms_rw": [fill(b) for b in all_ if b.kms_key and not b.read_only],
        "kms_ro": [fill(b) for b in all_ if b.kms_key and b.read_only],
        "kms_own": [fill(b) for b in all_ if b.kms_key and not b.external],
    }


def features(env: Environment) -> set[str]:
    forge = env.mode == "forge"
    # amazon-ebs-autoscale runs on the instances only when towergen installs it (not beside Fusion)
    auto = resolve(env).autoscale
    managed = env.credentials.aws_managed_policies
    if managed is None:
        managed = env.mode == "manual"
    # the test's own reading of the documented default, not towergen's
    user_policy = env.credentials.policy or "launch"
    managed = managed and user_policy == "launch"
    f = {
        env.mode,
        "ebs_autoscale" if auto else "no_ebs_autoscale",
        "managed" if managed else "no_managed",
        f"{user_policy}_policy",
        credentials_type(env),
    }
    if forge and env.compute.provisioning == "spot":
        f.add("spot")
    if forge and env.compute.fusion:
        f.add("fusion")
    if env.credentials.ses_from_address:
        f.add("ses")
    f.add("secrets" if env.credentials.pipeline_secrets else "no_secrets")
    if forge and env.fsx is not None and env.fsx.create is not None:
        f.add("fsx_create")
    if forge and env.compute.ebs_kms_key_arn and auto:
        f.add("ebs_kms")
    return f


@dataclass
class Part:
    action: str
    resource: str
    context: dict[str, Any]


@dataclass
class Row:
    id: str
    actor: str
    expect: str
    parts: list[Part]
    tradeoff: str | None = None
    principal: str | None = None
    results: list[str] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return all(r == "Allowed" for r in self.results)


def _fill(value: Any, v: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**v)
    if isinstance(value, list):
        return [_fill(x, v) for x in value]
    if isinstance(value, dict):
        return {k: _fill(x, v) for k, x in value.items()}
    return value


def expand(catalogue: dict, env: Environment, account: str, extra: dict[str, str]) -> list[Row]:
    """The catalogue's rows that apply to ``env``, placeholders filled in."""
    feats = features(env)
    forge = env.mode == "forge"
    base = {
        "partition": REGIONS[env.region],
        "region": env.region,
        "account": account,
        "name": env.name,
        "head_queue": f"{env.name}-head" if forge else env.manual.head_queue,
        "work_queue": f"{env.name}-work" if forge else env.manual.compute_queue,
        "instance": INSTANCE,
        "other_instance": OTHER_INSTANCE,
        "trusted_principal": resolve(env).trusted_principal_arn or TRUSTED_PRINCIPAL,
        # with platform:, the External ID the platform generates; on the emulator, its stand-in
        "external_id": EMULATOR_EXTERNAL_ID if env.platform is not None else EXTERNAL_ID,
        "ses_from": env.credentials.ses_from_address or SES_FROM,
        "ses_domain": (env.credentials.ses_from_address or SES_FROM).split("@", 1)[1],
        "ebs_kms_key": env.compute.ebs_kms_key_arn or "",
        **extra,
    }
    kinds = bucket_kinds(env)
    rows: list[Row] = []
    for raw in catalogue["rows"]:
        if not set(raw.get("when", [])) <= feats:
            continue
        each = raw.get("each")
        for one in kinds[each] if each else [{}]:
            v = {**base, **one}
            shared = raw.get("context", {})
            parts = []
            for req in raw["requests"]:
                action, resource, *ctx = req
                parts.append(Part(action, _fill(resource, v), _fill({**shared, **(ctx[0] if ctx else {})}, v)))
            rid = raw["id"] + (f"[{one['bucket']}]" if one else "")
            rows.append(Row(rid, raw["actor"], raw["expect"], parts, raw.get("tradeoff"), _fill(raw.get("principal"), v)))
    return rows


# --- reading policies back from IAM ------------------------------------------------------------------


def _doc(document: Any) -> dict:
    if isinstance(document, str):
        return json.loads(unquote(document))
    return document


def _managed(iam, arns: list[str]) -> list[dict]:
    out = []
    for arn in arns:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
        version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        out.append({"name": arn, "policy": _doc(version["Document"]), "aws_managed": arn.split(":")[4] == "aws"})
    return out


def role_policies(iam, role: str) -> list[dict]:
    inline = [
        {"name": f"{role}/{n}", "policy": _doc(iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"]), "aws_managed": False}
        for n in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
    return inline + _managed(iam, attached)


def user_policies(iam, user: str) -> list[dict]:
    inline = [
        {"name": f"{user}/{n}", "policy": _doc(iam.get_user_policy(UserName=user, PolicyName=n)["PolicyDocument"]), "aws_managed": False}
        for n in iam.list_user_policies(UserName=user)["PolicyNames"]
    ]
    attached = [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]]
    return inline + _managed(iam, attached)


@dataclass
class Actor:
    principal: str
    policies: list[dict]
    trust: dict | None = None


def read_actors(iam, env: Environment, account: str) -> dict[str, Actor]:
    """Each actor's principal and its policies, as IAM holds them after the apply."""
    name = env.name
    actors: dict[str, Actor] = {}

    def role(role_name: str, session: str) -> Actor:
        got = iam.get_role(RoleName=role_name)["Role"]
        return Actor(f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}", role_policies(iam, role_name), _doc(got["AssumeRolePolicyDocument"]))

    if credentials_type(env) == "role":
        actors["platform"] = role(f"{name}-platform", "tower")
        actors["platform_trust"] = actors["platform"]
    elif env.credentials.create_user:
        user = f"{name}-{env.credentials.user_name}"
        actors["platform"] = Actor(f"arn:aws:iam::{account}:user/{user}", user_policies(iam, user))
    actors["head_job"] = role(f"{name}-head-job", "ecs-task")
    actors["compute_job"] = role(f"{name}-compute-job", "ecs-task")
    if env.mode == "forge":
        actors["instance"] = role(f"{name}-instance", INSTANCE)
    if env.credentials.pipeline_secrets:
        actors["execution"] = role(f"{name}-execution", "ecs-agent")
    return actors


# --- evaluation ------------------------------------------------------------------------------------


def simulate(payload: dict) -> dict:
    proc = subprocess.run(
        ["node", str(SIMULATE)], input=json.dumps(payload), capture_output=True, text=True, cwd=HERE, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"simulate.mjs failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"}]}

# What each KMS key's own key policy is taken to say (KMS asks the key policy before any identity
# policy). A key of this account: AWS's default key policy, which lets IAM policies of the account
# decide. Another account's key (an external bucket's): its owner lets this account decrypt, as
# docs/security.md says the owner must; nothing more.
CROSS_ACCOUNT_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey"]


def key_policy(key_arn: str, account: str) -> dict:
    owner = key_arn.split(":")[4]
    actions: str | list[str] = "kms:*" if owner == account else CROSS_ACCOUNT_KEY_ACTIONS
    statement = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": actions, "Resource": "*"}
    return {"Version": "2012-10-17", "Statement": [statement]}


# iam-simulate (0.1.173) reads condition keys with a variable part only after a '/' (such as
# aws:RequestTag/NAME); KMS's kms:EncryptionContext:NAME has it after a ':', and the simulator
# ignores such a key (a request carrying it is denied as if the key were missing). The harness
# therefore renames kms:EncryptionContext:NAME, in the policies and in the requests alike, to a
# key the simulator reads with the same string semantics; the evaluation is otherwise unchanged.
_KMS_CONTEXT = re.compile(r"kms:EncryptionContext:(.+)", re.IGNORECASE)


def _readable_key(key: str) -> str:
    match = _KMS_CONTEXT.fullmatch(key)
    return f"aws:PrincipalTag/kms-encryption-context-{match.group(1).replace(':', '-')}" if match else key


def _readable_policy(policy: dict) -> dict:
    """``policy`` with every kms:EncryptionContext:NAME condition key renamed (see above)."""
    out = json.loads(json.dumps(policy))
    for st in _statements(out):
        for operator, keys in (st.get("Condition") or {}).items():
            st["Condition"][operator] = {_readable_key(k): v for k, v in keys.items()}
    return out


def evaluate(rows: list[Row], actors: dict[str, Actor], account: str) -> dict:
    """Fill in each row's results; returns the simulator's facts about the granted actions."""
    sims = []
    for row in rows:
        actor = actors[row.actor]
        for i, part in enumerate(row.parts):
            request = {
                "action": part.action,
                "principal": actor.principal,
                "resource": {"resource": part.resource, "accountId": account},
                "contextVariables": {_readable_key(k): v for k, v in part.context.items()},
            }
            sim = {"id": f"{row.id}#{i}", "request": request}
            if row.actor == "platform_trust":
                # the caller's own account lets it call AssumeRole; the role's trust decides
                request["principal"] = row.principal
                sim["identityPolicies"] = [{"name": "caller", "policy": ALLOW_ALL}]
                sim["resourcePolicy"] = actor.trust
            else:
                sim["identityPolicies"] = [{"name": p["name"], "policy": _readable_policy(p["policy"])} for p in actor.policies]
                if part.action.startswith("kms:"):
                    sim["resourcePolicy"] = key_policy(part.resource, account)
            sims.append(sim)
    granted = sorted({a for actor in actors.values() for p in actor.policies for a in _actions(p["policy"])})
    out = simulate({"simulations": sims, "actions": granted})
    for row in rows:
        row.results = [out["results"][f"{row.id}#{i}"]["result"] for i in range(len(row.parts))]
        row.errors = [out["results"][f"{row.id}#{i}"].get("errors") for i in range(len(row.parts))]
    return out["actions"]


def _statements(policy: dict) -> list[dict]:
    st = policy["Statement"]
    return st if isinstance(st, list) else [st]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _actions(policy: dict) -> list[str]:
    return [a for s in _statements(policy) if s["Effect"] == "Allow" for a in _as_list(s.get("Action", []))]


def problems(rows: list[Row], actors: dict[str, Actor], action_facts: dict) -> list[str]:
    """Everything wrong: a needed call denied, a forbidden call allowed, an action nobody needs,
    an action on "*" that IAM could scope, or an action IAM does not know."""
    out: list[str] = []
    for row in rows:
        if any(r == "Error" for r in row.results):
            out.append(f"{row.id}: the simulator refused the request: {row.errors}")
            continue
        if row.expect == "allow" and not row.allowed:
            denied = [f"{p.action} {p.resource}" for p, r in zip(row.parts, row.results, strict=False) if r != "Allowed"]
            out.append(f"{row.id} ({row.actor}): MISSING, denied: {'; '.join(denied)}")
        elif row.expect == "deny" and row.allowed:
            out.append(f"{row.id} ({row.actor}): OVER-BROAD, allowed: {'; '.join(p.action + ' ' + p.resource for p in row.parts)}")
    needed: dict[str, set[str]] = {}
    for row in rows:
        if row.expect == "allow" and row.allowed:
            needed.setdefault(row.actor, set()).update(p.action for p in row.parts)
    for actor_name, actor in actors.items():
        if actor_name == "platform_trust":
            continue
        for p in actor.policies:
            if p["aws_managed"]:
                continue  # the AWS managed policies are judged in the catalogue's rows
            for st in _statements(p["policy"]):
                if st["Effect"] != "Allow":
                    continue
                acts = _as_list(st.get("Action", []))
                for a in acts:
                    if not action_facts[a]["exists"]:
                        out.append(f"{actor_name} {p['name']} {st.get('Sid', '')}: {a} is not an IAM action")
                    elif a not in needed.get(actor_name, set()):
                        out.append(f"{actor_name} {p['name']} {st.get('Sid', '')}: grants {a}, which no catalogue row of {actor_name} needs")
                if "*" in _as_list(st.get("Resource", [])):
                    for a in acts:
                        if action_facts.get(a, {}).get("exists") and not action_facts[a]["wildcardOnly"]:
                            out.append(f"{actor_name} {p['name']} {st.get('Sid', '')}: {a} on \"*\", but IAM can scope it to resources")
    return out


def summary(rows: list[Row]) -> dict[str, int]:
    return {
        "rows": len(rows),
        "allow": sum(r.expect == "allow" for r in rows),
        "deny": sum(r.expect == "deny" for r in rows),
        "tradeoffs": sum(r.tradeoff is not None for r in rows),
        "requests": sum(len(r.parts) for r in rows),
    }


# --- parliament (IAM linter) -------------------------------------------------------------------------

SCANNERS = HERE.parent.parent / ".venv-scanners" / "bin"
ACCEPTED = HERE / "parliament-accepted.yaml"


def scanner(name: str) -> str:
    """A scanner's executable: on PATH, else in .venv-scanners (kept apart from towergen's venv:
    checkov pins versions that towergen's own dependencies do not accept)."""
    import shutil

    found = shutil.which(name) or (str(SCANNERS / name) if (SCANNERS / name).exists() else None)
    if found is None:
        raise AssertionError(f"{name} is not installed: python3 -m venv .venv-scanners && .venv-scanners/bin/pip install -r tests/iam/requirements-scanners.txt")
    return found


def lint(actors: dict[str, Actor], workdir: Path) -> list[str]:
    """parliament on every identity policy of towergen's own (AWS managed policies are AWS's;
    parliament does not read trust policies, which the catalogue's trust rows and smoke check);
    findings not listed in parliament-accepted.yaml."""
    accepted = yaml.safe_load(ACCEPTED.read_text(encoding="utf-8"))
    folder = workdir / "policies"
    folder.mkdir(exist_ok=True)
    written = 0
    for actor_name, actor in actors.items():
        for p in actor.policies:
            if not p["aws_managed"]:
                safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{actor_name}-{p['name']}")
                (folder / f"{safe}.json").write_text(json.dumps(p["policy"]), encoding="utf-8")
                written += 1
    assert written, "no policy to lint"
    proc = subprocess.run([scanner("parliament"), "--directory", str(folder), "--json"], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if proc.returncode not in (0, 1) or proc.stderr.strip():
        raise RuntimeError(f"parliament failed ({proc.returncode}):\n{proc.stderr}")
    out = []
    for line in proc.stdout.splitlines():
        finding = json.loads(line)
        detail = json.dumps(finding.get("detail"))
        if any(a["issue"] == finding["issue"] and a["match"] in detail for a in accepted):
            continue
        out.append(f"parliament {finding['issue']} in {Path(finding['location']['filepath']).name}: {detail}")
    return out


# --- the Security table of docs/security.md ------------------------------------------------------------

ACTOR_TITLES = {
    "platform": "the platform (user or role)",
    "platform_trust": "who may assume the platform's role",
    "head_job": "the Nextflow head job (`NAME-head-job`)",
    "compute_job": "a task (`NAME-compute-job`)",
    "instance": "the instance role (`NAME-instance`: ECS agent, amazon-ebs-autoscale)",
    "execution": "the execution role (`NAME-execution`: the ECS agent, for a task's secrets)",
}
EACH_TITLES = {
    "bucket": "bucket of the account",
    "rw": "read-write bucket",
    "ro": "read-only bucket of the account",
    "ext": "external bucket",
    "kms_rw": "read-write bucket with a KMS key",
    "kms_ro": "read-only bucket with a KMS key",
    "kms_own": "bucket of the account with a KMS key",
}
TABLE_BEGIN = "<!-- catalogue table: generated by `python tests/iam/harness.py table`; do not edit -->"
TABLE_END = "<!-- end of catalogue table -->"


def markdown_table(catalogue: dict | None = None) -> str:
    """One line per catalogue row: actor, call, allowed or denied, when, why (source / trade-off)."""
    catalogue = catalogue or load_catalogue()
    sources = catalogue.get("sources", {})
    lines = [TABLE_BEGIN, "", "| actor | call | result | when | source / reason |", "| --- | --- | --- | --- | --- |"]
    for actor in ACTOR_TITLES:
        for row in catalogue["rows"]:
            if row["actor"] != actor:
                continue
            when = ", ".join(row.get("when", [])) + (f" (per {EACH_TITLES[row['each']]})" if row.get("each") else "")
            source = row["source"]
            first = source.split(" ", 1)[0].rstrip(";,")
            if first in sources:
                source = f"{sources[first]}{source[len(first):]}"
            why = f"**trade-off:** {row['tradeoff']}" if row.get("tradeoff") else source
            cells = [ACTOR_TITLES[actor], row["call"], "allowed" if row["expect"] == "allow" else "**denied**", when or "always", why]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", TABLE_END]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["table"]:
        doc = HERE.parent.parent / "docs" / "security.md"
        text = doc.read_text(encoding="utf-8")
        start, end = text.index(TABLE_BEGIN), text.index(TABLE_END) + len(TABLE_END)
        doc.write_text(text[:start] + markdown_table() + text[end:], encoding="utf-8")
        print(f"wrote the catalogue table of {doc}")
    else:
        raise SystemExit("usage: python tests/iam/harness.py table")
