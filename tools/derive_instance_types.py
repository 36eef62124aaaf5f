#!/usr/bin/env python3
"""Derive towergen's EC2 instance type catalogue from the instance type data that moto ships.

    python tools/derive_instance_types.py                  # from the installed moto
    python tools/derive_instance_types.py --moto PATH      # a moto package (or checkout) elsewhere
    python tools/derive_instance_types.py --check          # exit 1 when the committed file is stale

moto's maintainers refresh ``moto/ec2/resources/instance_types.json`` (AWS DescribeInstanceTypes,
merged over every region their account reaches) and ``instance_type_offerings/region/*.json``
(DescribeInstanceTypeOfferings per region) about once a month, so each moto release carries a
machine-readable snapshot of what AWS listed. This script keeps the few facts towergen asks about
and writes them to ``towergen/spec/ec2-instance-types.json``: one line per family, sizes sorted
by vCPUs, memory and name, every list sorted, so that the file is the same bytes for the same moto
data and a moto upgrade shows as a readable diff.

The only input besides moto's files is the ``generated`` date (today unless ``--date`` is given).
``tests/spec/test_instances.py`` compares the committed file with this script's output from
the installed moto, ignoring that date and the moto version (see ``comparable`` below).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import importlib.metadata
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "towergen" / "spec" / "ec2-instance-types.json"

TYPES_FILE = "ec2/resources/instance_types.json"
OFFERINGS_DIR = "ec2/resources/instance_type_offerings/region"

# One row per size, in this order (the file says it too, under "columns").
COLUMNS = (
    "size",
    "vcpus",
    "memory_mib",
    "architectures",  # ProcessorInfo.SupportedArchitectures: x86_64, arm64, i386, x86_64_mac, arm64_mac
    "gpus",  # GpuInfo: whole GPUs, 0 without them (and for a fraction of one)
    "gpu_partition",  # GpuPartitionSize when the type has a fraction of one GPU (g6f: 0.125 to 0.5), else null
    "gpu_manufacturer",  # NVIDIA, AMD, ... or null (also set for a fraction)
    "gpu_name",  # T4, A10G, ... or null
    "storage_gb",  # InstanceStorageInfo.TotalSizeInGB, 0 without instance storage
    "storage_disk",  # ssd, hdd or null
    "storage_nvme",  # InstanceStorageInfo.NvmeSupport is required or supported
    "current_generation",
    "regions",  # indexes into "regions": where DescribeInstanceTypeOfferings lists the type
)


def moto_root(path: Path | None) -> Path:
    """The moto package directory: the installed one, or the one at (or under) ``path``."""
    if path is None:
        spec = importlib.util.find_spec("moto")
        if spec is None or spec.origin is None:
            raise SystemExit("moto is not installed: pip install -e '.[test]', or pass --moto PATH")
        return Path(spec.origin).parent
    for candidate in (path, path / "moto"):
        if (candidate / "ec2" / "resources").is_dir():
            return candidate
    raise SystemExit(f"{path}: not a moto package (no ec2/resources under it or under {path}/moto)")


def moto_version(root: Path) -> str:
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', (root / "__init__.py").read_text(), re.M)
    if match:
        return match.group(1)
    return importlib.metadata.version("moto")


def _read_json(root: Path, name: str) -> tuple[Any, str]:
    """moto's wheels carry ``name.gz``; its git checkout carries ``name``."""
    for candidate in (name + ".gz", name):
        path = root / candidate
        if path.is_file():
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as f:
                return json.load(f), candidate
    raise SystemExit(f"{root / name}(.gz): not found in this moto")


def _offerings(root: Path) -> tuple[dict[str, list[str]], str]:
    folder = root / OFFERINGS_DIR
    offered: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.json*")):
        region = path.name.split(".json")[0]
        data, _ = _read_json(folder, region + ".json")
        for offering in data:
            offered.setdefault(offering["InstanceType"], set()).add(offering["Location"])
    if not offered:
        raise SystemExit(f"{folder}: no region offerings found")
    return {name: sorted(regions) for name, regions in offered.items()}, f"{OFFERINGS_DIR}/*.json.gz"


def _partition(name: str, gpus: list[dict[str, Any]]) -> float | None:
    """A fractional GPU: DescribeInstanceTypes says Count 0, LogicalGpuCount 1 and the share."""
    fractions = [g["GpuPartitionSize"] for g in gpus if g.get("Count", 0) == 0 and g.get("GpuPartitionSize")]
    if fractions and len(gpus) > 1:
        raise SystemExit(f"{name}: a fractional GPU next to others; extend the columns")
    return fractions[0] if fractions else None


def _row(name: str, info: dict[str, Any], region_index: dict[str, int], regions: list[str]) -> list[Any]:
    gpus = (info.get("GpuInfo") or {}).get("Gpus") or []
    makers = sorted({g["Manufacturer"] for g in gpus})
    models = sorted({g["Name"] for g in gpus})
    storage = info.get("InstanceStorageInfo") or {}
    disks = sorted({d["Type"] for d in storage.get("Disks") or []})
    if len(makers) > 1 or len(models) > 1 or len(disks) > 1:
        raise SystemExit(f"{name}: mixed GPUs or disks ({makers} {models} {disks}); extend the columns")
    return [
        name.split(".", 1)[1],
        info["VCpuInfo"]["DefaultVCpus"],
        info["MemoryInfo"]["SizeInMiB"],
        sorted(info["ProcessorInfo"]["SupportedArchitectures"]),
        sum(g.get("Count", 0) for g in gpus),
        _partition(name, gpus),
        makers[0] if makers else None,
        models[0] if models else None,
        storage.get("TotalSizeInGB", 0),
        disks[0] if disks else None,
        storage.get("NvmeSupport") in ("required", "supported"),
        bool(info.get("CurrentGeneration")),
        sorted(region_index[r] for r in regions),
    ]


def derive(moto: Path | None = None, generated: str | None = None) -> dict[str, Any]:
    """The catalogue from moto's data, as the dictionary that ``render`` writes."""
    root = moto_root(moto)
    types, types_file = _read_json(root, TYPES_FILE)
    offered, offerings_file = _offerings(root)
    regions = sorted({r for rs in offered.values() for r in rs})
    region_index = {r: i for i, r in enumerate(regions)}
    families: dict[str, list[list[Any]]] = {}
    for name in sorted(types):
        info = types[name]
        if info.get("InstanceType", name) != name or "." not in name:
            raise SystemExit(f"{name}: not a family.size instance type name")
        row = _row(name, info, region_index, offered.get(name, []))
        families.setdefault(name.split(".", 1)[0], []).append(row)
    for rows in families.values():
        rows.sort(key=lambda r: (r[1], r[2], r[0]))  # vcpus, memory, size
    return {
        "about": "EC2 instance types for towergen's checks, derived by tools/derive_instance_types.py; do not edit by hand",
        "source": {
            "moto": moto_version(root),
            "files": [f"moto/{types_file}", f"moto/{offerings_file}"],
            "generated": generated or dt.date.today().isoformat(),
        },
        "columns": list(COLUMNS),
        "regions": regions,
        "families": dict(sorted(families.items())),
    }


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def render(catalogue: dict[str, Any]) -> str:
    """JSON with one line per family: small, and a diff names the families that changed."""
    families = catalogue["families"]
    head = {k: v for k, v in catalogue.items() if k != "families"}
    lines = ["{"]
    for key in sorted(head):
        lines.append(f"{_dump(key)}:{_dump(head[key])},")
    lines.append('"families":{')
    names = sorted(families)
    for i, name in enumerate(names):
        lines.append(f"{_dump(name)}:{_dump(families[name])}{',' if i < len(names) - 1 else ''}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def comparable(catalogue: dict[str, Any]) -> dict[str, Any]:
    """The catalogue without the fields that say when and from which moto release it was made:
    a moto upgrade that leaves the data alone is not a change to the catalogue."""
    source = {k: v for k, v in catalogue["source"].items() if k not in ("generated", "moto")}
    return {**catalogue, "source": source}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moto", type=Path, help="a moto package directory (default: the installed moto)")
    parser.add_argument("--date", help="the generated date to record, YYYY-MM-DD (default: today)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT.relative_to(ROOT)}")
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    args = parser.parse_args(argv)
    if args.date is not None:
        dt.date.fromisoformat(args.date)
    catalogue = derive(args.moto, args.date)
    if args.check:
        committed = json.loads(args.output.read_text(encoding="utf-8"))
        if comparable(committed) != comparable(catalogue):
            print(f"{args.output}: differs from moto {catalogue['source']['moto']}'s data; "
                  "run tools/derive_instance_types.py and review the diff", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(catalogue), encoding="utf-8")
    count = sum(len(rows) for rows in catalogue["families"].values())
    print(f"{args.output}: {count} types in {len(catalogue['families'])} families "
          f"from moto {catalogue['source']['moto']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
