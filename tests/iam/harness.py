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
ACTORS = ("platform", "head_job", "compute_job", "instance", "platform_trust")


def load_catalogue() -> dict[str, Any]:
    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


def buckets(env: Environment) -> list[tuple[str, bool]]:
    """(bucket, read_only) as the environment grants them: the work bucket first, read-write."""
    out: list[tuple[str, bool]] = []
    work_bucket = bucket_of(env.work_dir)
    if work_bucket:
        out.append((work_bucket, False))
    for item in env.storage.allowed_buckets:
        if item.name not in {b for b, _ in out}:
            out.append((item.name, item.access == "read"))
    return out


def credentials_type(env: Environment) -> str:
    """How the platform signs in (the test's own reading): with platform:, platform.credentials
    decides (role, or keys of the user), else credentials.type."""
    if env.platform is not None:
        return "role" if env.platform.credentials == "role" else "user"
    return env.credentials.type


def features(env: Environment) -> set[str]:
    forge = env.mode == "forge"
    # amazon-ebs-autoscale runs on the instances only when towergen installs it (not beside Fusion)
    auto = resolve(env).autoscale
    managed = env.credentials.aws_managed_policies
    if managed is None:
        managed = env.mode == "manual"
    # the test's own reading of the documented default, not towergen's
    user_policy = env.credentials.policy or ("forge" if env.mode == "forge" else "launch")
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
    if forge and env.fsx is not None and env.fsx.create is not None:
        f.add("fsx_create")
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
        "trusted_principal": TRUSTED_PRINCIPAL,
        # with platform:, the External ID the platform generates; on the emulator, its stand-in
        "external_id": EMULATOR_EXTERNAL_ID if env.platform is not None else EXTERNAL_ID,
        "ses_from": env.credentials.ses_from_address or SES_FROM,
        "ses_domain": (env.credentials.ses_from_address or SES_FROM).split("@", 1)[1],
        **extra,
    }
    bucket_kinds = {
        "bucket": [b for b, _ in buckets(env)],
        "rw": [b for b, ro in buckets(env) if not ro],
        "ro": [b for b, ro in buckets(env) if ro],
    }
    rows: list[Row] = []
    for raw in catalogue["rows"]:
        if not set(raw.get("when", [])) <= feats:
            continue
        each = raw.get("each")
        for bucket in bucket_kinds[each] if each else [None]:
            v = {**base, **({"bucket": bucket} if bucket else {})}
            shared = raw.get("context", {})
            parts = []
            for req in raw["requests"]:
                action, resource, *ctx = req
                parts.append(Part(action, _fill(resource, v), _fill({**shared, **(ctx[0] if ctx else {})}, v)))
            rid = raw["id"] + (f"[{bucket}]" if bucket else "")
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
    return actors


# --- evaluation ------------------------------------------------------------------------------------


def simulate(payload: dict) -> dict:
    proc = subprocess.run(
        ["node", str(SIMULATE)], input=json.dumps(payload), capture_output=True, text=True, cwd=HERE, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"simulate.mjs failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}


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
                "contextVariables": part.context,
            }
            sim = {"id": f"{row.id}#{i}", "request": request}
            if row.actor == "platform_trust":
                # the caller's own account lets it call AssumeRole; the role's trust decides
                request["principal"] = row.principal
                sim["identityPolicies"] = [{"name": "caller", "policy": ALLOW_ALL}]
                sim["resourcePolicy"] = actor.trust
            else:
                sim["identityPolicies"] = [{"name": p["name"], "policy": p["policy"]} for p in actor.policies]
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
            when = ", ".join(row.get("when", [])) + (f" (per {row['each']} bucket)" if row.get("each") else "")
            source = row["source"]
            first = source.split(" ", 1)[0]
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
