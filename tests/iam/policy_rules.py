"""Rules over the IAM module's policy documents, read statically (python-hcl2, no AWS, no Terraform).

The slow tier (tests/iam/test_iam.py) applies the IAM on the emulator and evaluates every call of
catalogue.yaml with an IAM simulator; this is its fast companion for the default tier. It reads
each ``data "aws_iam_policy_document"`` of modules/iam/*.tf, works out from the resources that use
it which actor it belongs to (the platform, the head job, the tasks, the instance role, the execution role) or whose
trust policy it is, and checks rules rather than today's exact list, so that the module may grow
(more statements, options such as KMS, other resource patterns) without rewriting this:

- every action an actor's policy allows is one the catalogue lists as allowed for that actor, no
  wildcard action, no ``not_actions``/``not_resources`` in an Allow, every action a literal (or
  from a local or a ``for_each`` the rules can read);
- a statement on ``"*"`` holds only actions the catalogue requests on ``"*"`` for that actor;
- ``iam:PassRole`` never on ``"*"`` or any other pattern or literal ARN, never on a variable (a
  caller could pass ``"*"``): only on roles the module creates, and only with
  ``iam:PassedToService``;
- the platform's trust: every statement that allows ``sts:AssumeRole`` requires
  ``sts:ExternalId`` (StringEquals, the External ID variable) and names its principal; a trust
  policy allows only the session actions ``sts:AssumeRole``, ``sts:TagSession`` and
  ``sts:SetSourceIdentity``, never to ``"*"``.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import yaml

HERE = Path(__file__).resolve().parent
CATALOGUE = HERE / "catalogue.yaml"
MODULE = HERE.parent.parent / "modules" / "iam"

# The roles of the module whose policies the catalogue speaks for, by the role resource's name.
ROLE_ACTORS = {
    "platform": "platform", "head_job": "head_job", "compute_job": "compute_job", "instance": "instance",
    "execution": "execution",  # the ECS agent fetching a task's secrets (pipeline_secrets)
}
SESSION_ACTIONS = {"sts:assumerole", "sts:tagsession", "sts:setsourceidentity"}
DOCUMENT = "aws_iam_policy_document"

_REFERENCE = re.compile(r"\b(var|local|data|each|statement|aws_iam_role|aws_iam_policy)\.([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?")


# --- reading the module ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    """An attribute as one expression text (python-hcl2 gives literals quoted, expressions in ${})."""
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _unquote(value: Any) -> str | None:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"' and "${" not in value.replace("$${", ""):
        return value[1:-1]
    return None


@dataclass
class Statement:
    document: str
    sid: str
    effect: str | None  # None: not a literal
    actions: set[str]
    templated_actions: list[str]  # actions written with an interpolation (not checkable)
    action_refs: list[str]  # references the actions expression reads that cannot be resolved
    resources: set[str]  # the resources' strings, as templates (after resolving locals and for_each)
    resource_refs: set[str]  # what the resources expression refers to (var.x, aws_iam_role.y, ...)
    has_not: list[str]  # not_actions, not_resources, not_principals
    principals: list[dict[str, Any]]
    conditions: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass
class Module:
    locals: dict[str, str]
    variables: dict[str, dict[str, Any]]
    documents: dict[str, dict[str, Any]]
    resources: dict[str, dict[str, dict[str, Any]]]  # type -> name -> body


@functools.lru_cache(maxsize=512)
def _parse_block(text: str) -> dict[str, Any]:
    return hcl2.loads(text)  # type: ignore[no-any-return]


def _parse(text: str) -> dict[str, Any]:
    """A file parsed top-level block by block (each block ends with a "}" line of its own), each
    block once per process: the tests that change one block of main.tf parse only that block."""
    merged: dict[str, Any] = {}
    start = 0
    for end in [m.end() for m in re.finditer(r"(?m)^\}[ \t]*$", text)] + [len(text)]:
        chunk = text[start:end]
        start = end
        if not chunk.strip():
            continue
        for key, value in _parse_block(chunk).items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
    return merged


def read_module(texts: Iterable[str]) -> Module:
    m = Module({}, {}, {}, {})
    for text in texts:
        parsed = copy.deepcopy(_parse(text))
        for block in parsed.get("locals", []):
            for k, v in block.items():
                if not k.startswith("__"):
                    m.locals[k] = _text(v)
        for block in parsed.get("variable", []):
            for name, body in block.items():
                m.variables[name.strip('"')] = body
        for block in parsed.get("data", []):
            for kind, named in block.items():
                if kind.strip('"') == DOCUMENT:
                    for name, body in named.items():
                        m.documents[name.strip('"')] = body
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    m.resources.setdefault(kind.strip('"'), {})[name.strip('"')] = body
    return m


def module_texts(folder: Path = MODULE) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.tf"))]


def _refs(expr: str) -> set[str]:
    """The references of an expression: ``var.x``, ``local.y``, ``aws_iam_role.z`` ..."""
    out = set()
    for kind, name, attr in _REFERENCE.findall(expr.replace("$${", "")):
        out.add(f"{kind}.{name}" + (f".{attr}" if kind in ("data", "each", "statement") and attr else ""))
    return out


def _expand(m: Module, expr: str, seen: frozenset[str] = frozenset()) -> str:
    """The expression with every ``local.x`` it reads replaced by that local's expression."""
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in seen or name not in m.locals:
            return match.group(0)
        return "(" + _expand(m, m.locals[name], seen | {name}) + ")"

    return re.sub(r"\blocal\.([A-Za-z0-9_]+)", sub, expr)


def _interpolation_end(text: str, j: int) -> int:
    """The index after the ``}`` that closes the interpolation whose body starts at ``j``."""
    depth = 1
    while j < len(text) and depth:
        if text[j] == '"':
            j = _string_end(text, j)
            continue
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    return j


def _string_end(text: str, i: int) -> int:
    """The index after the string that starts (with its quote) at ``i``; interpolations inside it
    (``${ ... }``, which may hold strings of their own) are skipped whole, ``$${`` is an escape."""
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == '"':
            return j + 1
        elif text.startswith("$${", j):
            j += 3
        elif text.startswith("${", j):
            j = _interpolation_end(text, j + 2)
        else:
            j += 1
    return j


def strings(expr: str) -> list[str]:
    """The string literals of an expression (not those inside another string's interpolation),
    each as its template text: ``"*"`` gives ``*``, ``"arn:${local.p}:role/*"`` its whole text."""
    out, i = [], 0
    while i < len(expr):
        if expr[i] == '"':
            end = _string_end(expr, i)
            out.append(expr[i + 1 : end - 1])
            i = end
        else:
            i += 1
    return out


def is_template(s: str) -> bool:
    return "${" in s.replace("$${", "")


def static_text(s: str) -> str:
    """A template's text without its interpolations: what stays whatever they hold."""
    out, i = [], 0
    while i < len(s):
        if s.startswith("$${", i):
            out.append("${")
            i += 3
        elif s.startswith("${", i):
            i = _interpolation_end(s, i + 2)
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _bool_variable(m: Module, ref: str) -> bool:
    if not ref.startswith("var."):
        return False
    var = m.variables.get(ref.split(".")[1], {})
    return str(var.get("type", "")).strip("${}") == "bool"


def statements(m: Module, name: str) -> Iterator[Statement]:
    """Every statement of a document, the dynamic ones with their ``for_each`` read as what
    ``statement.value`` may be."""
    body = m.documents[name]
    plain = [(s, "") for s in body.get("statement", [])]
    dynamic = []
    for block in body.get("dynamic", []):
        for label, content in block.items():
            if label.strip('"') == "statement":
                for st in content.get("content", []):
                    dynamic.append((st, _expand(m, _text(content.get("for_each", "")))))
    for st, for_each in plain + dynamic:
        actions_expr = _expand(m, _text(st.get("actions", [])))
        # actions taken from the for_each's values (no literal of their own): read the for_each;
        # a switch over literal lists (statement.value.read_only ? [...] : [...]) is read as both
        if ("statement.value" in actions_expr or "each.value" in actions_expr) and not strings(actions_expr):
            actions_expr += " " + for_each
        resources_expr = _expand(m, _text(st.get("resources", [])))
        if "statement.value" in resources_expr or "each.value" in resources_expr:
            resources_expr += " " + for_each
        action_refs = sorted(r for r in _refs(actions_expr)
                             if not (r.startswith(("statement.", "each.", "data.")) or _bool_variable(m, r)))
        effect = _unquote(st.get("effect", '"Allow"'))
        yield Statement(
            document=name,
            sid=_unquote(st.get("sid", '""')) or "",
            effect=effect,
            actions={a for a in strings(actions_expr) if not is_template(a)},
            templated_actions=[a for a in strings(actions_expr) if is_template(a)],
            action_refs=action_refs,
            resources=set(strings(resources_expr)),
            resource_refs=_refs(resources_expr),
            has_not=[k for k in ("not_actions", "not_resources", "not_principals") if k in st],
            principals=st.get("principals", []),
            conditions=st.get("condition", []),
            raw=st,
        )


# --- who uses which document -----------------------------------------------------------------------


def _documents_in(m: Module, expr: str) -> set[str]:
    return set(re.findall(rf"data\.{DOCUMENT}\.([A-Za-z0-9_]+)", _expand(m, expr)))


def _role_of(expr: str) -> str | None:
    found = re.findall(r"aws_iam_role\.([A-Za-z0-9_]+)", expr)
    return found[0] if found else None


@dataclass
class Usage:
    actors: dict[str, set[str]]  # document -> actors whose identity policy it is (or includes)
    trusts: dict[str, set[str]]  # document -> roles (resource names) whose trust policy it is
    unknown: list[str]  # documents attached where no actor of the catalogue applies


def usage(m: Module) -> Usage:
    direct: dict[str, set[str]] = {}
    trusts: dict[str, set[str]] = {}
    unknown: list[str] = []

    def attach(expr: str, actor: str | None, where: str) -> None:
        for doc in _documents_in(m, expr):
            if actor is None:
                unknown.append(f"{doc} (attached by {where})")
            else:
                direct.setdefault(doc, set()).add(actor)

    res = m.resources
    for name, body in res.get("aws_iam_role", {}).items():
        for doc in _documents_in(m, _text(body.get("assume_role_policy", ""))):
            trusts.setdefault(doc, set()).add(name)
    for name, body in res.get("aws_iam_role_policy", {}).items():
        role = _role_of(_text(body.get("role", "")))
        attach(_text(body.get("policy", "")), ROLE_ACTORS.get(role or ""), f"aws_iam_role_policy.{name}")
    for name, body in res.get("aws_iam_user_policy", {}).items():
        attach(_text(body.get("policy", "")), "platform", f"aws_iam_user_policy.{name}")
    # customer managed policies: their actors are those of the users and roles they are attached to
    for pname, pbody in res.get("aws_iam_policy", {}).items():
        holders: set[str | None] = set()
        for kind in ("aws_iam_user_policy_attachment", "aws_iam_role_policy_attachment", "aws_iam_policy_attachment"):
            for body in res.get(kind, {}).values():
                if f"aws_iam_policy.{pname}" not in _text(body.get("policy_arn", "")):
                    continue
                if kind == "aws_iam_user_policy_attachment":
                    holders.add("platform")
                else:
                    holders.add(ROLE_ACTORS.get(_role_of(_text(body.get("role", body.get("roles", "")))) or ""))
        if not holders:
            unknown.append(f"aws_iam_policy.{pname} (attached to nobody the rules know)")
        for actor in holders:
            attach(_text(pbody.get("policy", "")), actor, f"aws_iam_policy.{pname}")
    # a document included in another (source_policy_documents, override_policy_documents) grants
    # what it holds to the includer's actors
    actors = {d: set(a) for d, a in direct.items()}
    changed = True
    while changed:
        changed = False
        for name, body in m.documents.items():
            included = _documents_in(m, _text(body.get("source_policy_documents", [])) + _text(body.get("override_policy_documents", [])))
            for inc in included:
                before = len(actors.setdefault(inc, set()))
                actors[inc] |= actors.get(name, set())
                changed |= len(actors[inc]) != before
    return Usage(actors, trusts, unknown)


# --- the catalogue ---------------------------------------------------------------------------------


@dataclass
class Needs:
    allowed: dict[str, set[str]]  # actor -> actions (lower case) a catalogue row expects allowed
    on_star: dict[str, set[str]]  # actor -> actions an allowed row requests on "*"


def catalogue_needs(catalogue: dict[str, Any] | None = None) -> Needs:
    catalogue = catalogue or yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    allowed: dict[str, set[str]] = {}
    on_star: dict[str, set[str]] = {}
    for row in catalogue["rows"]:
        if row["expect"] != "allow":
            continue
        for action, resource, *_ in row["requests"]:
            allowed.setdefault(row["actor"], set()).add(action.lower())
            if resource == "*":
                on_star.setdefault(row["actor"], set()).add(action.lower())
    return Needs(allowed, on_star)


# --- the rules -------------------------------------------------------------------------------------


def _condition(cond: dict[str, Any]) -> tuple[str | None, str | None, str]:
    return _unquote(cond.get("test")), _unquote(cond.get("variable")), _text(cond.get("values", []))


def problems(texts: Iterable[str] | None = None, catalogue: dict[str, Any] | None = None) -> list[str]:
    """Every rule the module's policy documents break (empty: none)."""
    m = read_module(module_texts() if texts is None else texts)
    needs = catalogue_needs(catalogue)
    use = usage(m)
    out = [f"{u}: a policy for a principal the catalogue has no actor for" for u in use.unknown]
    platform_trusts = {d for d, roles in use.trusts.items() if "platform" in roles}
    if "platform" in m.resources.get("aws_iam_role", {}) and not platform_trusts:
        out.append("the platform's role has no trust policy document the rules can read")
    for name in sorted(m.documents):
        actors = sorted(use.actors.get(name, set()))
        is_trust = name in use.trusts
        if not actors and not is_trust:
            continue  # not attached to anything (an output only)
        for st in statements(m, name):
            where = f"{name}{'/' + st.sid if st.sid else ''}"
            if st.effect is None:
                out.append(f"{where}: the effect is not a literal")
                continue
            if st.effect == "Deny":
                continue  # a Deny grants nothing
            out += [f"{where}: {k} in an Allow statement" for k in st.has_not]
            out += [f"{where}: actions read {ref}, which the rules cannot check" for ref in st.action_refs]
            out += [f"{where}: the action {a} is a template, which the rules cannot check" for a in st.templated_actions]
            for action in sorted(st.actions):
                if "*" in action or "?" in action:
                    out.append(f"{where}: wildcard action {action}")
            if is_trust:
                out += _trust_problems(st, where, name in platform_trusts)
                continue
            for actor in actors:
                for action in sorted(st.actions):
                    if action.lower() not in needs.allowed.get(actor, set()):
                        out.append(f"{where}: {action} for {actor}, which no catalogue row of {actor} allows")
                if "*" in st.resources:
                    for action in sorted(st.actions):
                        if action.lower() not in needs.on_star.get(actor, set()):
                            out.append(f'{where}: {action} on "*" for {actor}, which the catalogue never requests on "*"')
            if any(a.lower() == "iam:passrole" for a in st.actions):
                out += _pass_role_problems(st, where)
    return out


def _pass_role_problems(st: Statement, where: str) -> list[str]:
    out = []
    for resource in sorted(st.resources):
        if "*" in static_text(resource) or "?" in static_text(resource):
            out.append(f'{where}: iam:PassRole on the pattern "{resource}"')
        elif resource.startswith("arn:"):
            out.append(f"{where}: iam:PassRole on a literal ARN {resource}, not a role the module creates")
    for ref in sorted(st.resource_refs):
        if ref.startswith("var."):
            out.append(f"{where}: iam:PassRole on {ref}, which a caller could set to anything")
    if not any(r.startswith("aws_iam_role.") for r in st.resource_refs):
        out.append(f"{where}: iam:PassRole on no role the module creates")
    if not any(_condition(c)[1] == "iam:PassedToService" for c in st.conditions):
        out.append(f"{where}: iam:PassRole without an iam:PassedToService condition")
    return out


def _trust_problems(st: Statement, where: str, platform: bool) -> list[str]:
    out = []
    for action in sorted(st.actions):
        if action.lower() not in SESSION_ACTIONS:
            out.append(f"{where}: {action} in a trust policy")
    for p in st.principals:
        if "*" in strings(_text(p.get("identifiers", []))):
            out.append(f'{where}: a trust policy for the principal "*"')
    if not st.principals:
        out.append(f"{where}: a trust policy statement without a principal")
    if platform and any(a.lower() == "sts:assumerole" for a in st.actions):
        external = [c for c in st.conditions if _condition(c)[1] == "sts:ExternalId"]
        if not external:
            out.append(f"{where}: the platform's trust allows sts:AssumeRole without an sts:ExternalId condition")
        for c in external:
            test, _, values = _condition(c)
            if test != "StringEquals":
                out.append(f"{where}: sts:ExternalId tested with {test}, not StringEquals")
            if "var.external_id" not in values:
                out.append(f"{where}: sts:ExternalId compared with {values}, not the External ID variable")
    return out
