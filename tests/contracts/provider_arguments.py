"""Checks Terraform files against the arguments each hashicorp/aws version accepts.

The contract (aws-provider-arguments.json, made by tools/derive_aws_provider_arguments.py from
the CDK bindings of hashicorp/aws 5.100.0 and 6.69.1) lists, per type and provider version, the
argument paths (`compute_resources.launch_template.version`), which of them are nested blocks,
which are required, and which attributes an expression may read. `check_tree` parses every
`.tf` file under a folder with python-hcl2 and reports, for each version:

- an argument or nested block the type does not have (or a block written as an attribute, and
  the other way round), in resources, data sources and the provider block, `dynamic` blocks
  included; meta-arguments (count, for_each, depends_on, lifecycle, provider, ...) are Terraform's;
- a required argument that is missing;
- a reference `aws_x.name.attr` / `data.aws_x.name.attr` to an attribute the type does not have;
- a use the 6.0 upgrade notes deprecate or whose meaning changed (KNOWN_CHANGES: not in any
  schema, so listed here by hand with the changelog entry);
- a `required_providers` constraint on hashicorp/aws that excludes a version of the contract;
- a resource or data source type the contract does not cover (run the derivation again).

Only `terraform_data` and `terraform_remote_state` (Terraform's own) are outside the contract.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

CONTRACT = Path(__file__).with_name("aws-provider-arguments.json")

META = {
    "resource": {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"},
    "data": {"count", "for_each", "depends_on", "provider", "lifecycle"},
    "provider": {"alias", "version"},
}
BUILTIN = {"resource.terraform_data", "data.terraform_remote_state"}

# Uses the provider still accepts but that 6.x warns about or reads differently. From the
# hashicorp/aws 6.0.0 CHANGELOG (NOTES) and upgrade guide.
KNOWN_CHANGES = {
    ("data.aws_region", "name"): "deprecated in hashicorp/aws 6.0 (warns on every plan); use id, which both majors have (#42131)",
    ("resource.aws_s3_bucket", "region"): "in hashicorp/aws 6.x the resource's own region argument, not the bucket's region; 5.x has no bucket_region (#42014)",
    ("data.aws_s3_bucket", "region"): "in hashicorp/aws 6.x the data source's own region argument, not the bucket's region; 5.x has no bucket_region (#42014)",
}

REFERENCE = re.compile(r"(?<![\w.])(data\.)?(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])*\.([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


class Contract:
    def __init__(self, data: dict[str, Any]):
        self.versions: list[str] = list(data["sources"])
        self.types: dict[str, dict[str, dict[str, set[str]]]] = {
            name: {v: {k: set(paths) for k, paths in spec.items()} for v, spec in per_version.items()}
            for name, per_version in data["types"].items()
        }

    @classmethod
    def load(cls, path: Path = CONTRACT) -> Contract:
        return cls(json.loads(path.read_text(encoding="utf-8")))


# --- version constraints (Terraform's syntax: "op version" joined by commas) -------------------------


def _parts(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("-")[0].split("."))


def _pad(parts: tuple[int, ...]) -> tuple[int, int, int]:
    return (parts + (0, 0, 0))[:3]  # type: ignore[return-value]


def admits(constraint: str, version: str) -> bool:
    """Whether a Terraform version constraint (">= 5.100, < 7.0", "~> 5.100") admits version."""
    have = _pad(_parts(version))
    for clause in constraint.split(","):
        match = re.fullmatch(r"\s*(=|!=|>=|<=|>|<|~>)?\s*v?(\d+(?:\.\d+){0,2})\s*", clause)
        if not match:
            raise ValueError(f"not a version constraint: {clause!r} in {constraint!r}")
        op, given = match.group(1) or "=", _parts(match.group(2))
        want = _pad(given)
        if op == "~>":
            # ~> 5.100 means >= 5.100, < 6.0; ~> 5.100.1 means >= 5.100.1, < 5.101.0
            upper = (given[0] + 1, 0, 0) if len(given) <= 2 else (given[0], given[1] + 1, 0)
            ok = want <= have < upper
        else:
            ok = {"=": have == want, "!=": have != want, ">": have > want, ">=": have >= want,
                  "<": have < want, "<=": have <= want}[op]
        if not ok:
            return False
    return True


# --- walking python-hcl2's output ----------------------------------------------------------------


def _unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


def _is_block(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get("__is_block__") for v in value)


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if not k.startswith("__"):  # __comments__: comments are not expressions
                yield from _strings(k)
                yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


class _Checker:
    def __init__(self, contract: Contract, file: str):
        self.contract = contract
        self.file = file
        self.problems: list[Problem] = []

    def report(self, where: str, message: str) -> None:
        self.problems.append(Problem(self.file, where, message))

    def body(self, key: str, where: str, body: dict[str, Any], prefix: str, meta: set[str]) -> None:
        """One block's contents: `prefix` is its path inside the type ("" at the top)."""
        spec = self.contract.types[key]
        present: set[str] = set()
        for name, value in body.items():
            if name.startswith("__") or (not prefix and name in meta):  # __is_block__, __comments__
                continue
            if name == "dynamic":
                for dynamic in value:
                    for label, generator in dynamic.items():
                        label = _unquote(label)
                        present.add(label)
                        self.argument(key, where, prefix + label, block=True)
                        for content in generator.get("content", []):
                            self.body(key, f"{where} dynamic {label}", content, prefix + label + ".", meta)
                continue
            present.add(name)
            path = prefix + name
            if _is_block(value):
                self.argument(key, where, path, block=True)
                for instance in value:
                    self.body(key, where, instance, path + ".", meta)
            else:
                self.argument(key, where, path, block=False)
        for version, paths in spec.items():
            for required in paths["required"]:
                parent, _, leaf = required.rpartition(".")
                if (parent + "." if parent else "") == prefix and leaf not in present:
                    self.report(where, f"{required} is required by hashicorp/aws {version}")

    def argument(self, key: str, where: str, path: str, *, block: bool) -> None:
        for version, paths in self.contract.types[key].items():
            if block and path in paths["blocks"]:
                continue
            if not block and path in paths["attributes"]:
                continue
            if block and path in paths["attributes"]:
                self.report(where, f"{path} is an argument in hashicorp/aws {version}, written here as a block")
            elif not block and path in paths["blocks"]:
                self.report(where, f"{path} is a block in hashicorp/aws {version}, written here as an argument")
            elif path.split(".")[0] == "endpoints" and key == "provider":
                self.report(where, f"{path}: the provider's endpoints are not in the contract (tools/derive_aws_provider_arguments.py leaves them out)")
            else:
                self.report(where, f"hashicorp/aws {version} has no argument {path}")

    def typed(self, kind: str, type_name: str, name: str, body: dict[str, Any]) -> None:
        key = f"{kind}.{type_name}"
        where = f"{'data.' if kind == 'data' else ''}{type_name}.{name}"
        if key in BUILTIN:
            return
        if type_name.startswith("seqera_"):
            return  # the Seqera provider's types: seqera_schema.py checks them (test_platform_tf.py)
        if key not in self.contract.types:
            self.report(where, "type not in the contract: run tools/derive_aws_provider_arguments.py"
                        if type_name.startswith("aws_") else "not an hashicorp/aws type: no contract covers it")
            return
        self.body(key, where, body, "", META[kind])

    def references(self, document: dict[str, Any]) -> None:
        for text in _strings(document):
            for data, type_name, _name, attribute in REFERENCE.findall(text):
                key = f"{'data' if data else 'resource'}.{type_name}"
                where = f"{data}{type_name}.{_name}.{attribute}"
                if key not in self.contract.types:
                    self.report(where, "a reference to a type not in the contract")
                    continue
                for version, paths in self.contract.types[key].items():
                    if attribute not in paths.get("readable", set()):
                        self.report(where, f"hashicorp/aws {version} has no attribute {attribute} on {type_name}")
                change = KNOWN_CHANGES.get((key, attribute))
                if change:
                    self.report(where, change)

    def constraints(self, document: dict[str, Any]) -> None:
        for terraform in document.get("terraform", []):
            for required in terraform.get("required_providers", []):
                for local_name, spec in required.items():
                    if local_name == "__is_block__" or not isinstance(spec, dict):
                        continue
                    source = _unquote(str(spec.get("source", "")))
                    if source.lower() not in ("hashicorp/aws", "registry.terraform.io/hashicorp/aws"):
                        continue
                    constraint = _unquote(str(spec.get("version", "")))
                    if not constraint:
                        self.report("required_providers", "hashicorp/aws without a version constraint")
                        continue
                    for version in self.contract.versions:
                        if not admits(constraint, version):
                            self.report("required_providers", f"hashicorp/aws {constraint!r} excludes {version}")

    def document(self, document: dict[str, Any]) -> None:
        for kind in ("resource", "data"):
            for group in document.get(kind, []):
                for type_name, named in group.items():
                    for name, body in named.items():
                        self.typed(kind, _unquote(type_name), _unquote(name), body)
        for group in document.get("provider", []):
            for name, body in group.items():
                if _unquote(name) == "aws":
                    self.body("provider", "provider.aws", body, "", META["provider"])
        self.references(document)
        self.constraints(document)


def check_text(text: str, file: str = "<text>", contract: Contract | None = None) -> list[Problem]:
    checker = _Checker(contract or Contract.load(), file)
    checker.document(hcl2.loads(text))
    return checker.problems


def tf_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.tf") if ".terraform" not in p.parts)


def check_tree(folder: Path, contract: Contract | None = None) -> list[Problem]:
    contract = contract or Contract.load()
    problems: list[Problem] = []
    for path in tf_files(folder):
        problems += check_text(path.read_text(encoding="utf-8"), str(path), contract)
    return problems


def aws_constraints(folder: Path) -> dict[str, str]:
    """{file: the hashicorp/aws version constraint it declares} for every .tf file under folder
    that declares one."""
    found = {}
    for path in tf_files(folder):
        for terraform in hcl2.loads(path.read_text(encoding="utf-8")).get("terraform", []):
            for required in terraform.get("required_providers", []):
                spec = required.get("aws")
                if isinstance(spec, dict) and "version" in spec:
                    found[str(path)] = _unquote(str(spec["version"]))
    return found
