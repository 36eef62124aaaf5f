"""Check Terraform for the Seqera provider against its contract, without the provider.

``check_hcl(text)`` parses HCL with python-hcl2 and returns every problem it finds in the
``seqera_*`` resources and data sources, the ``provider "seqera"`` block, the provider's entry in
``required_providers`` and ``import`` blocks that target a seqera resource:

* argument paths the provider does not have (nested attributes as dotted paths), with a hint
  when the name is the platform API's JSON name (``waveEnabled``) of an argument;
* required arguments that are missing (and the ``Not Null`` ones of a nested object that is set);
* read-only arguments that are set, nested attributes written as blocks, literal values of the
  wrong type;
* literal values that break a validator the provider runs at plan time: allowed values, name
  patterns and lengths, the S3 work directory, feature dependencies (Fusion needs Wave, NVMe
  and Fusion Snapshots need Fusion, ...), access key/secret key/role pairing, label rules, the
  1024-byte pre/post-run script warning; deprecated arguments are warnings.

The facts come from ``seqera-provider-schema.json`` (``tools/derive_seqera_provider_schema.py``
derives it from the provider's source at a tag). What a validator means is written here, once
per validator name; its parameters (the sibling it requires, the limit, the patterns) are read
from the contract. A contract that names a validator this module does not know raises
``ContractError``: the checker never passes what it cannot judge.

A value that is not a literal (a reference, a function call, a template with interpolation) is
unknown here, as it is to Terraform at validation: checks that need it are skipped.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

SCHEMA_PATH = Path(__file__).with_name("seqera-provider-schema.json")
PREFIX = "seqera_"
REGISTRY_HOSTS = ("", "registry.terraform.io/", "registry.opentofu.org/")

META_ARGUMENTS = {
    "resource": {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"},
    "data": {"count", "for_each", "depends_on", "provider", "lifecycle"},
}
# Terraform rejects write-only arguments before this version; import blocks need 1.5.
WRITE_ONLY_SINCE = (1, 11, 0)


class ContractError(Exception):
    """The contract names something this checker cannot judge."""


@dataclass(frozen=True)
class Problem:
    address: str  # resource seqera_aws_batch_ce.main, data seqera_workspace.main, provider seqera, ...
    path: str  # argument path, "" for the block itself
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = f"{self.address}: {self.path}" if self.path else self.address
        return f"{where}: {self.message}" + (" (warning)" if self.severity == "warning" else "")


class Unknown:
    """A value only Terraform can work out (a reference, a call, a template)."""

    def __init__(self, expr: str):
        self.expr = expr

    def __repr__(self) -> str:
        return f"Unknown({self.expr!r})"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()  # an argument not written at all (null behaves the same)


@dataclass
class Block:
    """A block as python-hcl2 gives it (``name { ... }``), as opposed to ``name = { ... }``."""

    body: dict


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_schema(path: Path | str = SCHEMA_PATH) -> dict:
    return _load(str(path))


# --------------------------------------------------------------------------------------------
# python-hcl2's form, made into values


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def decode_string(literal: str) -> str | Unknown:
    """An HCL quoted string as python-hcl2 keeps it (quotes, escapes) -> its value, or Unknown
    when it is a template (``${...}``, ``%{...}``)."""
    body = literal[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            e = body[i + 1 : i + 2]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
            elif e in ("u", "U"):
                width = 4 if e == "u" else 8
                out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
                i += 2 + width
            else:
                raise ValueError(f"unknown escape \\{e} in {literal!r}")
        elif body.startswith("$${", i) or body.startswith("%%{", i):
            out.append(body[i + 1 : i + 3])
            i += 3
        elif body.startswith("${", i) or body.startswith("%{", i):
            return Unknown(literal)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _label(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == '"' and text[-1] == '"' else text


def value_of(raw: Any) -> Any:
    """python-hcl2's value -> str/int/float/bool/None, list, dict, Block list or Unknown."""
    if isinstance(raw, str):
        if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
            return decode_string(raw)
        return Unknown(raw)
    if isinstance(raw, list):
        if raw and all(isinstance(x, dict) and x.get("__is_block__") for x in raw):
            return [Block(_body(x)) for x in raw]
        return [value_of(x) for x in raw]
    if isinstance(raw, dict):
        out = {}
        for key, value in raw.items():
            if key.startswith("__"):
                continue
            key = _label(key)
            if key.startswith("${"):
                return Unknown(str(raw))  # a computed key: the object's shape is unknown
            out[key] = value_of(value)
        return out
    return raw


def _body(raw: dict) -> dict:
    return {k: v for k, v in raw.items() if not k.startswith("__")}


def is_known(value: Any) -> bool:
    if isinstance(value, Unknown):
        return False
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    return True


def is_set(value: Any) -> bool:
    return value is not MISSING and value is not None


def _true(value: Any) -> bool:
    return value is True


def _nonempty(value: Any) -> bool:
    return is_set(value) and not isinstance(value, Unknown) and value != ""


# --------------------------------------------------------------------------------------------
# versions and constraints (Terraform's syntax)


def parse_version(text: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-[0-9A-Za-z.-]+)?", text.strip())
    if not m:
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(g or 0) for g in m.groups())  # type: ignore[return-value]


def admits(constraint: str, version: tuple[int, int, int]) -> bool:
    """Whether a Terraform version constraint (``~> 0.42.0, != 0.42.1``) allows version."""
    for part in constraint.split(","):
        m = re.fullmatch(r"\s*(~>|>=|<=|!=|=|>|<)?\s*(v?[0-9][0-9A-Za-z.-]*)\s*", part)
        if not m:
            raise ValueError(f"not a version constraint: {constraint!r}")
        op, text = m.group(1) or "=", m.group(2)
        bound = parse_version(text)
        if op == "~>":
            given = len(re.match(r"v?[0-9.]+", text).group().rstrip(".").split("."))
            if version < bound:
                return False
            if given == 1:
                continue
            upper = list(bound[: given - 1])
            upper[-1] += 1
            if version[: given - 1] >= tuple(upper):
                return False
        elif not {
            "=": version == bound,
            "!=": version != bound,
            ">": version > bound,
            ">=": version >= bound,
            "<": version < bound,
            "<=": version <= bound,
        }[op]:
            return False
    return True


# --------------------------------------------------------------------------------------------
# the checker


@dataclass
class Node:
    """Where a validator looks: the value, its object, and the object around that one."""

    value: Any
    parent: dict
    grandparent: dict | None
    path: str


class Checker:
    def __init__(self, schema: dict):
        self.schema = schema
        self.problems: list[Problem] = []
        self._seen: set[Problem] = set()
        self.write_only_used: list[tuple[str, str]] = []

    def report(self, address: str, path: str, message: str, severity: str = "error") -> None:
        problem = Problem(address, path, message, severity)
        if problem not in self._seen:
            self._seen.add(problem)
            self.problems.append(problem)

    # -- blocks --------------------------------------------------------------------------------

    def check_document(self, doc: dict) -> None:
        for kind in ("resource", "data"):
            for entry in doc.get(kind, []):
                for type_label, named in _body(entry).items():
                    type_name = _label(type_label)
                    if not type_name.startswith(PREFIX):
                        continue
                    for name_label, body in _body(named).items():
                        self.check_instance(kind, type_name, _label(name_label), _body(body))
        for entry in doc.get("provider", []):
            for label, body in _body(entry).items():
                if _label(label) == PREFIX.rstrip("_"):
                    self.check_provider(_body(body))
        for entry in doc.get("terraform", []):
            self.check_terraform(_body(entry))
        for entry in doc.get("import", []):
            self.check_import(_body(entry))

    def types(self, kind: str) -> dict:
        return self.schema["resources" if kind == "resource" else "data_sources"]

    def check_instance(self, kind: str, type_name: str, name: str, body: dict) -> None:
        address = f"{'resource' if kind == 'resource' else 'data'} {type_name}.{name}"
        spec = self.types(kind).get(type_name)
        if spec is None:
            known = self.schema["types"]["resource" if kind == "resource" else "data"]
            if type_name in known:
                self.report(address, "", f"{type_name} exists in the provider but is not covered by the contract; add it to COVERED in tools/derive_seqera_provider_schema.py")
            else:
                hint = difflib.get_close_matches(type_name, known, n=1)
                self.report(address, "", f"the provider has no {'resource' if kind == 'resource' else 'data source'} {type_name}" + (f" (did you mean {hint[0]}?)" if hint else ""))
            return
        values = {k: value_of(v) for k, v in body.items() if k not in META_ARGUMENTS[kind]}
        self.check_object(address, spec["attributes"], "", values, None)

    def check_provider(self, body: dict) -> None:
        attrs = self.schema["provider"]["attributes"]
        values = {k: value_of(v) for k, v in body.items() if k not in ("alias", "version")}
        self.check_object("provider seqera", attrs, "", values, None)

    def check_terraform(self, body: dict) -> None:
        for rp in body.get("required_providers", []):
            for local, spec in _body(rp).items():
                spec = value_of(spec)
                if not isinstance(spec, dict):
                    continue
                source = spec.get("source")
                wanted = self.schema["provider"]["registry_source"]
                if isinstance(source, str) and source.lower().removeprefix("registry.terraform.io/") == wanted and local != PREFIX.rstrip("_"):
                    self.report("terraform", f"required_providers.{local}", f"the local name of {wanted} should be {PREFIX.rstrip('_')!r}: resource types seqera_* look the provider up by it")
                if local != PREFIX.rstrip("_"):
                    continue
                if isinstance(source, str) and not any(source.lower() == host + wanted for host in REGISTRY_HOSTS):
                    self.report("terraform", "required_providers.seqera.source", f"is {source!r}, not {wanted!r}")
                elif source is None or source is MISSING:
                    self.report("terraform", "required_providers.seqera.source", f"missing: without it Terraform looks for hashicorp/seqera; write {wanted!r}")
                self.check_provider_version(spec.get("version", MISSING))
        rv = value_of(body.get("required_version"))
        if isinstance(rv, str) and self.write_only_used:
            below = (WRITE_ONLY_SINCE[0], WRITE_ONLY_SINCE[1] - 1, 99)
            if admits(rv, below):
                where = ", ".join(f"{a} {p}" for a, p in self.write_only_used)
                self.report("terraform", "required_version", f"{rv!r} admits Terraform older than 1.11, which cannot send write-only arguments ({where})")

    def check_provider_version(self, constraint: Any) -> None:
        version_text = self.schema["provider"].get("version")
        if version_text is None:
            return
        version = parse_version(version_text)
        path = "required_providers.seqera.version"
        if constraint is MISSING or constraint is None:
            self.report("terraform", path, f"missing: any provider version would do; the contract is {version_text}, pin '~> {version_text}'", "warning")
            return
        if not isinstance(constraint, str):
            return
        try:
            if not admits(constraint, version):
                self.report("terraform", path, f"{constraint!r} does not admit {version_text}, the version this contract was derived from")
            elif admits(constraint, (version[0], version[1] + 1, 0)):
                self.report("terraform", path, f"{constraint!r} also admits {version[0]}.{version[1] + 1}.0, a 0.x minor release the contract has not seen (0.x minors may change the schema); '~> {version_text}' pins the minor", "warning")
        except ValueError as exc:
            self.report("terraform", path, str(exc))

    def check_import(self, body: dict) -> None:
        to = value_of(body.get("to"))
        if not isinstance(to, Unknown):
            return
        m = re.fullmatch(r"\$\{(seqera_\w+)\.(\w+)(\[[^\]]*\])?\}", to.expr)
        if not m:
            return
        type_name = m.group(1)
        address = f"import {type_name}.{m.group(2)}"
        spec = self.types("resource").get(type_name)
        if spec is None:
            return
        facts = spec.get("import", {})
        if not facts.get("supported"):
            self.report(address, "", f"the provider cannot import {type_name}: {facts.get('reason', 'no ImportState')}")
            return
        ident = value_of(body.get("id"))
        fields = None
        if isinstance(ident, str):
            try:
                fields = json.loads(ident)
            except json.JSONDecodeError:
                self.report(address, "id", f"is not JSON; {type_name} imports by a JSON object with {facts['fields']}")
                return
        elif isinstance(ident, Unknown) and (jm := re.fullmatch(r"\$\{jsonencode\((\{.*\})\)\}", ident.expr, re.S)):
            try:
                parsed = value_of(hcl2.loads(f"x = {jm.group(1)}\n", serialization_options=_OPTIONS)["x"])
            except Exception:
                parsed = None
            if isinstance(parsed, dict) and is_known(parsed):
                fields = parsed
        if facts.get("format") != "json" or fields is None:
            return
        if not isinstance(fields, dict):
            self.report(address, "id", f"must be a JSON object with {facts['fields']}")
            return
        for extra in sorted(set(fields) - set(facts["fields"])):
            self.report(address, "id", f"has {extra!r}, which the provider refuses (fields: {facts['fields']})")
        for required in facts.get("required_fields", []):
            if not fields.get(required):
                self.report(address, "id", f"lacks {required!r}")
        if "workspace_id" in facts["fields"] and not isinstance(fields.get("workspace_id"), int):
            self.report(address, "id", "workspace_id must be a JSON number (the workspace's numeric id)")

    # -- objects and attributes ----------------------------------------------------------------

    def children(self, attrs: dict, prefix: str) -> dict[str, dict]:
        out = {}
        for path, spec in attrs.items():
            parent, _, name = path.rpartition(".")
            if parent == prefix:
                out[name] = spec
        return out

    def check_object(self, address: str, attrs: dict, prefix: str, values: dict, parent_values: dict | None) -> None:
        children = self.children(attrs, prefix)
        api_names = {spec["api_name"]: name for name, spec in children.items() if "api_name" in spec}
        for key, value in values.items():
            path = f"{prefix}.{key}" if prefix else key
            spec = children.get(key)
            if spec is None:
                if key in api_names and api_names[key] != key:
                    hint = f" ({key!r} is the platform API's JSON name; the provider calls it {api_names[key]!r})"
                else:
                    settable = [n for n, c in children.items() if c["required"] or c["optional"]]
                    close = difflib.get_close_matches(key, settable, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.report(address, path, f"unknown argument{hint}")
                continue
            self.check_value(address, attrs, path, spec, value, values)
        for name, spec in children.items():
            path = f"{prefix}.{name}" if prefix else name
            value = values.get(name, MISSING)
            if spec["required"] and not is_set(value):
                self.report(address, path, "missing required argument")
            node = Node(value, values, parent_values, path)
            for validator in spec.get("validators", []):
                self.run_validator(address, validator, node, spec)

    def check_value(self, address: str, attrs: dict, path: str, spec: dict, value: Any, container: dict) -> None:
        if not spec["required"] and not spec["optional"]:
            self.report(address, path, "is read-only (computed by the provider); it cannot be set")
            return
        if "deprecated" in spec and is_set(value):
            self.report(address, path, f"is deprecated: {spec['deprecated']}", "warning")
        if spec.get("write_only") and is_set(value):
            self.write_only_used.append((address, path))
        kind = spec["type"]
        nested = kind in ("single_nested", "list_nested", "set_nested", "map_nested")
        if isinstance(value, list) and value and all(isinstance(v, Block) for v in value):
            if nested:
                self.report(address, path, f"is a nested attribute: write `{path.rsplit('.', 1)[-1]} = {{ ... }}`{' (a list: [{ ... }])' if kind != 'single_nested' else ''}, not a block")
                value = value[0].body if kind == "single_nested" and len(value) == 1 else [b.body for b in value]
                value = value_of(value) if isinstance(value, dict) else [value_of(b) for b in value]
            else:
                self.report(address, path, f"is a {kind} argument, not a block")
                return
        if not is_set(value) or isinstance(value, Unknown):
            return
        if kind == "single_nested":
            if not isinstance(value, dict):
                self.report(address, path, f"must be an object, got {_show(value)}")
                return
            self.check_object(address, attrs, path, value, container)
        elif kind in ("list_nested", "set_nested"):
            if not isinstance(value, list):
                self.report(address, path, f"must be a list of objects, got {_show(value)}")
                return
            for i, element in enumerate(value):
                epath = f"{path}[{i}]"
                if isinstance(element, Unknown):
                    continue
                if not isinstance(element, dict):
                    self.report(address, epath, f"must be an object, got {_show(element)}")
                    continue
                self.check_element(address, attrs, path, epath, element, spec)
        elif kind == "map_nested":
            raise ContractError(f"{path}: map_nested attributes are not handled")
        else:
            self.convert(address, path, kind, spec.get("element_type"), value)

    def check_element(self, address: str, attrs: dict, path: str, epath: str, element: dict, spec: dict) -> None:
        sub = Checker(self.schema)
        sub.check_object(address, attrs, path, element, None)
        for problem in sub.problems:  # report the element's index, not only the path
            self.report(problem.address, problem.path.replace(path, epath, 1), problem.message, problem.severity)
        self.write_only_used.extend(sub.write_only_used)
        for validator in spec.get("element_validators", []):
            self.run_validator(address, validator, Node(element, {}, None, epath), spec)

    def convert(self, address: str, path: str, kind: str, element_type: str | None, value: Any) -> Any:
        """Type-check a literal the way Terraform converts it; None when it cannot."""
        if isinstance(value, Unknown):
            return value
        if kind in ("list", "set"):
            if not isinstance(value, list):
                self.report(address, path, f"must be a list, got {_show(value)}")
                return None
            return [self.convert(address, f"{path}[{i}]", element_type or "string", None, v) for i, v in enumerate(value)]
        if kind == "map":
            if not isinstance(value, dict):
                self.report(address, path, f"must be a map, got {_show(value)}")
            return value
        if isinstance(value, (list, dict)):
            self.report(address, path, f"must be a {kind}, got {_show(value)}")
            return None
        if kind == "string":
            return value if isinstance(value, str) else json.dumps(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if value in ("true", "false"):
                return value == "true"
            self.report(address, path, f"must be a bool, got {_show(value)}")
            return None
        if kind in ("int32", "int64", "number", "float32", "float64"):
            number = value
            if isinstance(value, str):
                try:
                    number = float(value) if re.search(r"[.eE]", value) else int(value)
                except ValueError:
                    self.report(address, path, f"must be a number, got {_show(value)}")
                    return None
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                self.report(address, path, f"must be a number, got {_show(value)}")
                return None
            if kind.startswith("int"):
                if number != int(number):
                    self.report(address, path, f"must be a whole number, got {_show(value)}")
                    return None
                bits = 31 if kind == "int32" else 63
                if not -(2**bits) <= number < 2**bits:
                    self.report(address, path, f"{number} does not fit a {kind}")
                    return None
            return number
        raise ContractError(f"{path}: attribute type {kind} is not handled")

    # -- validators -----------------------------------------------------------------------------

    def run_validator(self, address: str, validator: dict, node: Node, spec: dict) -> None:
        kind = validator["kind"]
        value = node.value
        if kind == "not_null":
            if not is_set(value):
                self.report(address, node.path, f"must be set when {node.path.rsplit('.', 1)[0] or 'the block'} is set (Not Null)")
            return
        if kind == "custom":
            facts = self.schema["validators"].get(validator["name"])
            if facts is None:
                raise ContractError(f"validator {validator['name']} has no facts in the contract")
            impl = CUSTOM.get(validator["name"])
            if impl is None:
                raise ContractError(f"the contract's validator {validator['name']} ({facts['file']}) is not implemented by this checker")
            for severity, message, *where in impl(node, facts):
                self.report(address, where[0] if where else node.path, message, severity)
            return
        if kind not in STANDARD:
            raise ContractError(f"validator kind {kind} is not implemented by this checker")
        if not is_set(value) or not is_known(value):
            return
        converted = _literal(spec, value)
        if converted is None:
            return
        message = STANDARD[kind](validator, converted)
        if message:
            self.report(address, node.path, message)


_OPTIONS = SerializationOptions(preserve_heredocs=False, with_comments=False)


def _literal(spec: dict, value: Any) -> Any:
    """The value as the attribute's type, or None when it does not convert (reported already)."""
    kind = spec["type"]
    if kind == "string":
        return value if isinstance(value, str) else None if isinstance(value, (list, dict)) else json.dumps(value)
    if kind == "bool":
        return value if isinstance(value, bool) else {"true": True, "false": False}.get(value) if isinstance(value, str) else None
    if kind.startswith(("int", "float", "number")):
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return value
        try:
            return float(value) if re.search(r"[.eE]", value) else int(value)
        except (TypeError, ValueError):
            return None
    return value


def _show(value: Any) -> str:
    if isinstance(value, Unknown):
        return value.expr
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return json.dumps(value)


# --------------------------------------------------------------------------------------------
# the framework's validators (terraform-plugin-framework-validators): value -> message or None


def _length_message(v: dict, n: int, unit: str) -> str | None:
    lo, hi = v.get("min"), v.get("max")
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        bounds = f"between {lo} and {hi}" if lo is not None and hi is not None else f"at least {lo}" if lo is not None else f"at most {hi}"
        return f"length must be {bounds} {unit}, got {n}"
    return None


STANDARD: dict[str, Callable[[dict, Any], str | None]] = {
    "one_of": lambda v, x: None if x in v["values"] else f"must be one of {v['values']}, got {json.dumps(x)}",
    "none_of": lambda v, x: f"must not be one of {v['values']}" if x in v["values"] else None,
    # Go's MatchString finds a match anywhere; the provider's patterns carry their anchors
    "regex": lambda v, x: None if re.search(v["pattern"], x) else f"must match {v['pattern']}, got {json.dumps(x)}",
    "utf8_length": lambda v, x: _length_message(v, len(x), "characters"),
    "byte_length": lambda v, x: _length_message(v, len(x.encode("utf-8")), "bytes"),
    "range": lambda v, x: None if (v.get("min") is None or x >= v["min"]) and (v.get("max") is None or x <= v["max"]) else f"must be between {v.get('min')} and {v.get('max')}, got {x}",
    "size": lambda v, x: _length_message(v, len(x), "elements"),
    "unique_values": lambda v, x: None if len({json.dumps(e) for e in x}) == len(x) else "values must be unique",
}


# --------------------------------------------------------------------------------------------
# the provider's own validators (internal/validators), one function per name


def _requires_sibling_true(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    if facts.get("rule") != "RequiresSiblingBoolTrue":
        raise ContractError(f"{facts['file']}: expected a RequiresSiblingBoolTrue rule")
    sibling = facts["args"]["siblingAttr"]
    if _boolish(node.value) is True:
        other = node.parent.get(sibling, MISSING)
        if not isinstance(other, Unknown) and _boolish(other) is not True:
            yield facts["severity"], facts["args"]["errorDetail"]


def _boolish(value: Any) -> Any:
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    return value


def _graviton(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    # arm64_enabled sits in forge; Fargate is forge's, Fusion and Wave the config's
    if _boolish(node.value) is not True:
        return
    config = node.grandparent or {}
    for where, name, why in (
        (node.parent, "fargate_head_enabled", "Fargate for the head job"),
        (config, "enable_fusion", "Fusion v2"),
        (config, "enable_wave", "Wave"),
    ):
        value = where.get(name, MISSING)
        if not isinstance(value, Unknown) and _boolish(value) is not True:
            yield "error", f"arm64_enabled = true requires {name} = true ({why})"


def _fargate_head(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    forge = node.value
    if not isinstance(forge, dict) or _boolish(forge.get("fargate_head_enabled")) is not True:
        return
    kind = forge.get("type", MISSING)
    if isinstance(kind, str) and kind != "SPOT":
        yield "error", "fargate_head_enabled = true requires forge type = \"SPOT\""
    fusion = node.parent.get("enable_fusion", MISSING)
    if not isinstance(fusion, Unknown) and _boolish(fusion) is not True:
        yield "error", "fargate_head_enabled = true requires enable_fusion = true"
    if _boolish(forge.get("efs_create")) is True:
        yield "error", "fargate_head_enabled = true cannot be combined with efs_create"
    if _nonempty(forge.get("efs_id", MISSING)):
        yield "error", "fargate_head_enabled = true cannot be combined with efs_id"
    if _nonempty(forge.get("fsx_name", MISSING)):
        yield "error", "fargate_head_enabled = true cannot be combined with fsx_name"


def _aws_forge(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    config = node.value
    if not isinstance(config, dict):
        return
    forge = config.get("forge", MISSING)
    if not isinstance(forge, dict):
        return
    if _nonempty(forge.get("type", MISSING)) and _boolish(config.get("enable_fusion")) is True and _nonempty(config.get("cli_path", MISSING)):
        yield "error", "cli_path must not be set when forge and enable_fusion are both on (Forge manages the CLI path)"
    dragen = forge.get("dragen_enabled", MISSING)
    if not isinstance(dragen, Unknown) and _boolish(dragen) is not True:
        for name in ("dragen_ami_id", "dragen_instance_type"):
            if _nonempty(forge.get(name, MISSING)):
                yield "error", f"forge.{name} is only applicable when forge.dragen_enabled is true"
    if _boolish(forge.get("efs_create")) is True and _nonempty(forge.get("efs_id", MISSING)):
        yield "error", "forge.efs_create and forge.efs_id are mutually exclusive"
    block = forge.get("ebs_block_size", MISSING)
    auto = forge.get("ebs_auto_scale", MISSING)
    if is_set(block) and not isinstance(block, Unknown) and block != 0 and not isinstance(auto, Unknown) and _boolish(auto) is not True:
        yield "error", "forge.ebs_block_size is only applicable when forge.ebs_auto_scale is true"


def _config_env_variable(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    entry = node.value
    if not isinstance(entry, dict):
        return
    head, compute = entry.get("head", False), entry.get("compute", False)
    if isinstance(head, Unknown) or isinstance(compute, Unknown):
        return
    if _boolish(head) is not True and _boolish(compute) is not True:
        yield "error", "at least one of head or compute must be true (both default to false)"


def _run_script_size(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    value = node.value
    (limit,) = facts["constants"].values()
    if isinstance(value, str) and len(value.encode("utf-8")) > limit:
        yield facts["severity"], f"is {len(value.encode('utf-8'))} bytes; Seqera Platform Cloud rejects pre/post-run scripts above {limit} bytes"


def _work_dir_s3(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    value = node.value
    if not isinstance(value, str) or value == "":
        return
    if not value.startswith("s3://"):
        yield "error", f"must be an s3:// URI (s3://bucket/path), got {json.dumps(value)}"
    elif value == "s3://":
        yield "error", "must name a bucket after s3://"
    elif value.endswith("/"):
        yield "error", f"must not end with a slash (the API strips it, and every plan would differ): {json.dumps(value.rstrip('/'))}"


def _aws_credential_keys(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    obj = node.parent
    values = [obj.get(k, MISSING) for k in ("access_key", "secret_key", "assume_role_arn")]
    if any(isinstance(v, Unknown) for v in values):
        return
    access, secret, role = (_nonempty(v) for v in values)
    # the provider hangs this on all three arguments; reported once, where it applies
    prefix = node.path.rpartition(".")[0]
    at = (prefix + "." if prefix else "").__add__
    if access and not secret:
        yield "error", "is required when access_key is set", at("secret_key")
    elif secret and not access:
        yield "error", "is required when secret_key is set", at("access_key")
    elif not (access or secret or role):
        yield "error", "set either assume_role_arn or both access_key and secret_key", prefix


def _label_is_default(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    if _boolish(node.value) is True:
        resource = node.parent.get("resource", MISSING)
        if not isinstance(resource, Unknown) and _boolish(resource) is not True:
            yield "error", "is_default can only be true when resource = true"


def _label_name(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    value = node.value
    if not isinstance(value, str):
        return
    n = len(value.encode("utf-8"))
    for check in facts.get("length_checks", []):
        if (check["op"] == "<" and n < check["value"]) or (check["op"] == ">" and n > check["value"]):
            yield "error", f"label name must be {facts['length_checks'][0]['value']}-{facts['length_checks'][-1]['value']} characters, got {n}"
            return
    (pattern,) = facts["patterns"].values()
    if not re.search(pattern, value):
        yield "error", f"label name must be letters and digits separated by single dashes or underscores, got {json.dumps(value)}"


def _label_value(node: Node, facts: dict) -> Iterator[tuple[str, str]]:
    value = node.value
    resource = node.parent.get("resource", MISSING)
    if isinstance(value, Unknown) and (m := re.search(r"(?<!\$)\$\{\s*(sessionId|workflowId|userName)\s*\}", value.expr)):
        # the provider's guide: Terraform would read ${sessionId} as its own interpolation
        name = m.group(1)
        yield "error", f"a dynamic label value must be escaped for Terraform: write \"$${{{name}}}\", not \"${{{name}}}\""
        return
    if isinstance(resource, Unknown) or isinstance(value, Unknown):
        return
    is_resource = _boolish(resource) is True
    empty = not is_set(value) or value == ""
    if is_resource and empty:
        yield "error", "value is required when resource = true"
    elif not empty and not is_resource:
        yield "error", "value can only be set when resource = true"
    elif not empty and isinstance(value, str):
        patterns = facts["patterns"]
        if not any(re.search(p, value) for p in patterns.values()):
            yield "error", f"label value must be 2-39 letters and digits separated by single dashes or underscores, or one of ${{sessionId}}, ${{workflowId}}, ${{userName}}; got {json.dumps(value)}"


CUSTOM: dict[str, Callable[[Node, dict], Iterator[tuple[str, str]]]] = {
    "FusionEnabledValidator": _requires_sibling_true,
    "FusionSnapshotsValidator": _requires_sibling_true,
    "NvmeStorageValidator": _requires_sibling_true,
    "GravitonValidator": _graviton,
    "FargateHeadValidator": _fargate_head,
    "AwsForgeValidator": _aws_forge,
    "ConfigEnvVariableValidator": _config_env_variable,
    "RunScriptSizeValidator": _run_script_size,
    "WorkDirS3Validator": _work_dir_s3,
    "AWSCredentialKeysValidator": _aws_credential_keys,
    "LabelIsDefaultValidator": _label_is_default,
    "LabelNameValidator": _label_name,
    "LabelValueResourceValidator": _label_value,
}


# --------------------------------------------------------------------------------------------


def check_hcl(text: str, schema: dict | None = None) -> list[Problem]:
    """Every problem of the seqera_* blocks (and the provider's setup) in one HCL text."""
    doc = hcl2.loads(text, serialization_options=_OPTIONS)
    checker = Checker(schema or load_schema())
    # required_version needs to know whether write-only arguments are used: blocks first
    checker.check_document({k: v for k, v in doc.items() if k != "terraform"})
    checker.check_document({"terraform": doc.get("terraform", [])})
    return checker.problems


def check_tree(folder: Path, schema: dict | None = None) -> list[Problem]:
    """check_hcl over every *.tf file of a folder, the files read as one module."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(Path(folder).glob("*.tf")))
    return check_hcl(text, schema)


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
