#!/usr/bin/env python3
"""Derive, from the prebuilt CDK bindings of the AWS provider, the arguments and nested blocks
that each version of hashicorp/aws accepts for the resource and data source types towergen uses,
and write them as a small JSON file (tests/contracts/aws-provider-arguments.json).

Why: towergen's output must be accepted by hashicorp/aws 5.x and 6.x alike. Only the 5.x
provider binary is available where the tests run (a plugin mirror of 5.100.0); 6.x cannot be
downloaded there. Its argument lists can, though: the CDK bindings on PyPI are generated from the
provider's own schema, one package release per provider release. The test
tests/contracts/test_aws_provider_arguments.py then checks every rendered tree against both.

Get the two wheels (about 125 MB together; keep them outside the repository):

    pip download --no-deps -d /work/cache/wheels \\
        cdktn-provider-aws==25.8.1 cdktf-cdktf-provider-aws==20.1.0

    cdktn-provider-aws 25.8.1       is built from hashicorp/aws 6.69.1
    cdktf-cdktf-provider-aws 20.1.0 is built from hashicorp/aws 5.100.0

(the script reads the provider version from the bindings themselves and records it; the
contract test expects 5.100.0 and 6.69.1, so the mapping above is checked, not assumed). Then, from the repository root:

    python3 tools/derive_aws_provider_arguments.py \\
        /work/cache/wheels/cdktf_cdktf_provider_aws-20.1.0-py3-none-any.whl \\
        /work/cache/wheels/cdktn_provider_aws-25.8.1-py3-none-any.whl

It runs offline with the Python standard library only (a few seconds: it reads the 34-46 MB
`_jsii/*.jsii.tgz` archive inside each wheel). `--check` compares instead of writing and exits 1
when the committed file differs.

How the bindings are read: each wheel holds `_jsii/<name>.jsii.tgz`; inside it,
`package/lib/<kebab-case type>/index.js` (`batch-compute-environment`,
`data-aws-region`, `provider`) defines one class per type whose `synthesizeAttributes()` returns
`{terraform_argument: converter(...)}` for every argument and nested block, and one function
`<struct>ToTerraform(struct)` per nested block with the same shape. A converter that calls
another `*ToTerraform` function is a nested block (or an object attribute); the parallel
`*ToHclTerraform` functions say which (`isBlock: true`). Which arguments are required comes
from `index.d.ts` next to it (a configuration property without `?`), and which attributes an
expression may read (computed ones too) from the getters of the type's class
(`this.getStringAttribute('arn')`). Computed-only attributes do not appear
(they cannot be set in configuration); a few the schema marks optional-and-computed do (`id`,
`tags_all`), as Terraform accepts them.

Which types: every `resource "aws_..."` and `data "aws_..."` written in modules/, templates/ and
examples/ (the provider block too), found by scanning those folders, so the JSON stays small
and follows the code. Run the script again whenever towergen starts using a new type or a
newer provider release is adopted.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "contracts" / "aws-provider-arguments.json"
SCANNED = ("modules", "templates", "examples")
# The provider's `endpoints` block has an argument per AWS service (300 and more); towergen's
# output never sets one (only the emulator's generated override does), so its children are left
# out to keep the file small. The checker reports any use of them as not covered.
PROVIDER_SKIPPED = frozenset({"endpoints"})
TYPE_PATTERN = re.compile(r'^\s*(resource|data)\s+"(aws_[a-z0-9_]+)"', re.M)
VERSION_PATTERN = re.compile(r"registry\.terraform\.io/providers/hashicorp/aws/(\d+\.\d+\.\d+)/docs")


def used_types(root: Path = ROOT) -> list[str]:
    """`resource.aws_x` / `data.aws_y` for every AWS type towergen's files declare, plus `provider`."""
    found = {"provider"}
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in (".tf", ".j2"):
                for kind, name in TYPE_PATTERN.findall(path.read_text(encoding="utf-8")):
                    found.add(f"{kind}.{name}")
    return sorted(found)


def js_directory(key: str) -> str:
    if key == "provider":
        return "provider"
    kind, name = key.split(".", 1)
    base = name.removeprefix("aws_").replace("_", "-")
    return f"data-aws-{base}" if kind == "data" else base


def read_bindings(wheel: Path, directories: set[str]) -> tuple[str, str, dict[str, dict[str, str]]]:
    """(package name and version, provider version, {directory: {"js": index.js, "d.ts":
    index.d.ts}}) from one wheel."""
    with zipfile.ZipFile(wheel) as archive:
        tgz = [n for n in archive.namelist() if re.search(r"/_jsii/[^/]+\.jsii\.tgz$", n)]
        if len(tgz) != 1:
            raise SystemExit(f"{wheel}: expected one _jsii/*.jsii.tgz, found {tgz}")
        package = Path(tgz[0]).name.removesuffix(".jsii.tgz")  # provider-aws@25.8.1
        dist = next((n.split("/")[0] for n in archive.namelist() if n.endswith(".dist-info/METADATA")), package)
        data = archive.read(tgz[0])
    wanted = {f"package/lib/{d}/index.{ext}": (d, ext) for d in directories for ext in ("js", "d.ts")}
    sources: dict[str, dict[str, str]] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            found = wanted.get(member.name)
            if found is not None:
                sources.setdefault(found[0], {})[found[1]] = tar.extractfile(member).read().decode("utf-8")
    missing = sorted(d for d in directories if len(sources.get(d, {})) != 2)
    if missing:
        raise SystemExit(f"{wheel}: no bindings for {', '.join(missing)} (a type this provider version does not have?)")
    versions = {v for files in sources.values() for text in files.values() for v in VERSION_PATTERN.findall(text)}
    if len(versions) != 1:
        raise SystemExit(f"{wheel}: expected one provider version in the bindings, found {sorted(versions)}")
    return dist.removesuffix(".dist-info"), versions.pop(), sources


def _bodies(source: str, suffix: str) -> dict[str, str]:
    """Top-level `function <name><suffix>(struct) {...}` bodies by name (the JS is generated:
    a top-level function ends at the first line that is exactly `}`)."""
    bodies = {}
    for match in re.finditer(rf"^function (\w+){suffix}\(struct\) \{{\n(.*?)^\}}$", source, re.M | re.S):
        bodies[match.group(1)] = match.group(2)
    return bodies


def _method(source: str, name: str) -> str:
    match = re.search(rf"^    {name}\(\) \{{\n(.*?)^    \}}$", source, re.M | re.S)
    if not match:
        raise ValueError(f"no {name}()")
    return match.group(1)


ENTRY = re.compile(r"^\s+(\w+): (.+?),?$", re.M)
HCL_ENTRY = re.compile(r"(\w+): \{\s*value: (.*?),\s*isBlock: (true|false),\s*type: \"(\w+)\",\s*storageClassType: \"[^\"]*\",?\s*\}", re.S)
NESTED = re.compile(r"(?<![.\w])(\w+?)To(?:Hcl)?Terraform\b")


def _entries(body: str) -> dict[str, str | None]:
    """{argument: nested struct function or None} from a `return {...}` of *ToTerraform."""
    returned = body[body.index("return {") + len("return {"):]
    entries: dict[str, str | None] = {}
    for name, expr in ENTRY.findall(returned[: returned.index("\n    };") if "\n    };" in returned else len(returned)]):
        nested = NESTED.findall(expr)
        entries[name] = nested[0] if nested else None
    return entries


def _hcl_blocks(body: str) -> dict[str, bool]:
    return {name: is_block == "true" for name, _value, is_block, _kind in HCL_ENTRY.findall(body)}


CLASS = re.compile(r"^class (\w+) extends (\w+)\.(\w+) \{$", re.M)
PROPERTY = re.compile(r"/\*\*((?:(?!\*/).)*)\*/\s*readonly \w+(\??):", re.S)
ANCHOR = re.compile(r"#(\w+) \w+#\w+\}")
INTERFACE = re.compile(r"^export interface (\w+)(?: extends [\w.]+)? \{\n(.*?)^\}$", re.M | re.S)


def _required(declarations: str) -> dict[str, set[str]]:
    """{struct function name, or "" for the type itself: required argument names} from the
    TypeScript declarations (index.d.ts): in the configuration interface of the type
    (`<Class>Config`) and of each nested block (`<Struct>`), a property without `?` is required;
    its JSDoc links the registry anchor, the Terraform name (`#max_vcpus`)."""
    required: dict[str, set[str]] = {}
    for name, body in INTERFACE.findall(declarations):
        key = "" if name.endswith("Config") else name[0].lower() + name[1:]
        names = set()
        for doc, optional in PROPERTY.findall(body):
            anchor = ANCHOR.search(doc)
            if anchor and not optional:
                names.add(anchor.group(1))
        required[key] = names
    return required


READABLE = re.compile(r"get\w*Attribute\('(\w+)'\)|interpolationForAttribute\('(\w+)'\)|new \w+\(this, \"(\w+)\"")


def _readable(source: str) -> list[str]:
    """Every top-level attribute an expression may read (`aws_x.name.<attribute>`), computed ones
    included: the getters of the type's class."""
    starts = list(CLASS.finditer(source))
    for i, match in enumerate(starts):
        if match.group(3) in ("TerraformResource", "TerraformDataSource"):
            body = source[match.end(): starts[i + 1].start() if i + 1 < len(starts) else len(source)]
            return sorted({next(g for g in m.groups() if g) for m in READABLE.finditer(body)})
    return []


def arguments(source: str, declarations: str, skip: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """{"attributes": [...], "blocks": [...], "required": [...]} as dotted paths for the type
    defined in `source` (the children of the blocks in `skip` left out), and for resources and
    data sources "readable": the top-level attributes expressions may refer to."""
    structs = _bodies(source, "ToTerraform")
    hcl_structs = _bodies(source, "ToHclTerraform")
    required_names = _required(declarations)
    attributes: list[str] = []
    blocks: list[str] = []
    required: list[str] = []

    def walk(entries: dict[str, str | None], flags: dict[str, bool], prefix: str, seen: tuple[str, ...]) -> None:
        if set(entries) != set(flags):
            raise ValueError(f"{prefix or 'top level'}: synthesizeAttributes and the HCL form disagree: {sorted(set(entries) ^ set(flags))}")
        for name, nested in sorted(entries.items()):
            path = prefix + name
            if name in required_names[seen[-1] if seen else ""]:
                required.append(path)
            if flags[name]:
                blocks.append(path)
            else:
                attributes.append(path)
            if nested is not None and nested in structs and path not in skip:
                if nested in seen:  # recursive structures (none in the types towergen uses)
                    continue
                walk(_entries(structs[nested]), _hcl_blocks(hcl_structs[nested]), path + ".", seen + (nested,))

    top = _entries(_method(source, "synthesizeAttributes"))
    walk(top, _hcl_blocks(_method(source, "synthesizeHclAttributes")), "", ())
    result = {"attributes": sorted(attributes), "blocks": sorted(blocks), "required": sorted(required)}
    readable = _readable(source)
    if readable:
        result["readable"] = readable
    return result


def derive(wheels: list[Path], types: list[str]) -> dict:
    directories = {js_directory(t): t for t in types}
    result: dict = {
        "about": (
            "Arguments and nested blocks hashicorp/aws accepts, per provider version, for the types "
            "towergen uses; derived by tools/derive_aws_provider_arguments.py from the CDK bindings "
            "named in 'sources'. Do not edit by hand."
        ),
        "sources": {},
        "types": {t: {} for t in types},
    }
    for wheel in wheels:
        dist, version, sources = read_bindings(wheel, set(directories))
        result["sources"][version] = dist
        for directory, files in sources.items():
            key = directories[directory]
            result["types"][key][version] = arguments(files["js"], files["d.ts"], PROVIDER_SKIPPED if key == "provider" else frozenset())
    result["sources"] = dict(sorted(result["sources"].items(), key=lambda kv: tuple(int(p) for p in kv[0].split("."))))
    for t in types:
        result["types"][t] = dict(sorted(result["types"][t].items(), key=lambda kv: tuple(int(p) for p in kv[0].split("."))))
    return result


def dumps(data: dict) -> str:
    """One path per line, so that a diff names the type, the version and the argument."""
    return json.dumps(data, indent=1, sort_keys=False, ensure_ascii=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheels", nargs=2, type=Path, help="the two wheels (any order): cdktf-cdktf-provider-aws 20.1.0 and cdktn-provider-aws 25.8.1")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare with the output file instead of writing it; exit 1 when it differs")
    args = parser.parse_args(argv)
    text = dumps(derive(args.wheels, used_types()))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is not what the wheels give: run without --check", file=sys.stderr)
            return 1
        print(f"{args.output} is current")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {len(used_types())} types for {', '.join(json.loads(text)['sources'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
