"""What towergen knows about EC2 instance types, from the catalogue in ``ec2-instance-types.json``
(pure functions; the standard library only, so that anything may import this module).

The catalogue is derived from the instance type data moto ships (AWS DescribeInstanceTypes and
DescribeInstanceTypeOfferings, refreshed by moto's maintainers) by ``tools/derive_instance_types.py``;
``source()`` says which moto release and when.

Every function takes what an environment file may name in ``compute.instance_types``:

- a type, ``m6id.2xlarge``: answered for that size;
- a family, ``m6id``: AWS Batch launches any of its sizes, so a family has a property only when
  every size has it (``architectures`` is the union of its sizes', usually one);
- one of AWS Batch's special values (``SPECIAL``), answered over the families it stands for.

A name the catalogue does not know has no properties: ``has_nvme`` and ``has_nvidia_gpu`` are
False, ``architectures`` is empty, ``family_of`` and ``info`` are None. Whether a name is known
is ``known``'s question, and ``suggest`` offers the nearest known names.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

DATA = "ec2-instance-types.json"

# AWS Batch's special values of instanceTypes and the families they stand for (Batch API reference,
# ComputeResource.instanceTypes). ``optimal`` is c4/m4/r4 where the region has them and c5/m5/r5
# elsewhere; AWS said in 2025 that ``optimal`` will behave like ``default_x86_64``. Every one of
# those families is x86_64 without instance storage or GPUs, so the answers here do not depend on
# which the region gets.
SPECIAL: dict[str, tuple[str, ...]] = {
    "optimal": ("c4", "m4", "r4"),
    "default_x86_64": ("m6i", "c6i", "r6i", "c7i"),
    "default_arm64": ("m6g", "c6g", "r6g", "c7g"),
}
OPTIMAL_FALLBACK = ("c5", "m5", "r5")


@dataclass(frozen=True)
class TypeInfo:
    """One size of one family, as the catalogue records it."""

    name: str
    family: str
    size: str
    vcpus: int
    memory_mib: int
    architectures: frozenset[str]
    gpus: int  # whole GPUs
    gpu_partition: float | None  # the share of one GPU a fractional-GPU type has (g6f, gr6f)
    gpu_manufacturer: str | None  # also for a fraction
    gpu_name: str | None
    storage_gb: int  # instance storage, all disks together; 0 without
    storage_disk: str | None  # ssd or hdd
    nvme: bool  # the instance storage is NVMe
    current_generation: bool
    regions: frozenset[str]  # where AWS offers it (among the catalogue's regions)

    @property
    def nvidia_gpu(self) -> bool:
        return self.gpus > 0 and self.gpu_manufacturer == "NVIDIA"


class _Families(Mapping[str, tuple[TypeInfo, ...]]):
    """The catalogue's families, each made into ``TypeInfo`` on first use: a render asks about a
    few families, never all of them."""

    def __init__(self, raw: dict[str, list[list[Any]]], columns: list[str], regions: tuple[str, ...]):
        self._raw, self._columns, self._regions = raw, columns, regions
        self._built: dict[str, tuple[TypeInfo, ...]] = {}

    def __getitem__(self, family: str) -> tuple[TypeInfo, ...]:
        if family not in self._built:
            self._built[family] = tuple(self._make(family, values) for values in self._raw[family])
        return self._built[family]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, family: object) -> bool:
        return family in self._raw

    def sizes_of(self, family: str) -> list[str]:
        """The size names of a family, without making its ``TypeInfo``."""
        return [values[0] for values in self._raw.get(family, ())]

    def _make(self, family: str, values: list[Any]) -> TypeInfo:
        row = dict(zip(self._columns, values, strict=True))
        return TypeInfo(
            name=f"{family}.{row['size']}",
            family=family,
            size=row["size"],
            vcpus=row["vcpus"],
            memory_mib=row["memory_mib"],
            architectures=frozenset(row["architectures"]),
            gpus=row["gpus"],
            gpu_partition=row["gpu_partition"],
            gpu_manufacturer=row["gpu_manufacturer"],
            gpu_name=row["gpu_name"],
            storage_gb=row["storage_gb"],
            storage_disk=row["storage_disk"],
            nvme=row["storage_nvme"],
            current_generation=row["current_generation"],
            regions=frozenset(self._regions[i] for i in row["regions"]),
        )


class _Types(Mapping[str, TypeInfo]):
    """Every type by name (``m6i.xlarge``), read through the families."""

    def __init__(self, families: _Families):
        self._families = families

    def __getitem__(self, name: str) -> TypeInfo:
        family = name.split(".", 1)[0]
        if family in self._families:
            for t in self._families[family]:
                if t.name == name:
                    return t
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (f"{family}.{size}" for family in self._families for size in self._families.sizes_of(family))

    def __len__(self) -> int:
        return sum(len(self._families.sizes_of(family)) for family in self._families)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or "." not in name:
            return False
        family, _, size = name.partition(".")
        return size in self._families.sizes_of(family)


@dataclass(frozen=True)
class _Catalogue:
    source: dict[str, Any]
    regions: tuple[str, ...]
    types: _Types
    families: _Families


@functools.cache
def _catalogue() -> _Catalogue:
    if __package__:
        text = resources.files(__package__).joinpath(DATA).read_text(encoding="utf-8")
    else:  # loaded from its path, outside the package
        text = (Path(__file__).resolve().parent / DATA).read_text(encoding="utf-8")
    raw = json.loads(text)
    regions = tuple(raw["regions"])
    families = _Families(raw["families"], raw["columns"], regions)
    return _Catalogue(raw["source"], regions, _Types(families), families)


def source() -> dict[str, Any]:
    """Where the catalogue comes from: ``{"moto": version, "files": [...], "generated": date}``."""
    return dict(_catalogue().source)


def regions() -> tuple[str, ...]:
    """The regions whose offerings the catalogue records (moto's; not every AWS region)."""
    return _catalogue().regions


def families() -> tuple[str, ...]:
    return tuple(_catalogue().families)


def types() -> tuple[str, ...]:
    return tuple(_catalogue().types)


def is_special(name: str) -> bool:
    return name in SPECIAL


def known(name: str) -> bool:
    """A type (``m6i.xlarge``), a family (``m6i``) or a special value (``optimal``) that exists."""
    c = _catalogue()
    return name in c.types or name in c.families or name in SPECIAL


def family_of(name: str) -> str | None:
    """``m6id.2xlarge`` -> ``m6id``; a family or special value is its own. None when the part
    before the dot is not a known family (``m6id.huge`` still gives ``m6id``: the family exists,
    the size does not, which ``known`` says)."""
    if name in SPECIAL:
        return name
    family = name.split(".", 1)[0]
    return family if family in _catalogue().families else None


def info(name: str) -> TypeInfo | None:
    """Everything the catalogue records about a type (not a family); None when unknown."""
    return _catalogue().types.get(name)


def sizes(name: str) -> tuple[TypeInfo, ...]:
    """The types ``name`` lets AWS Batch launch: a type itself, a family's sizes (by vCPUs and
    memory), a special value's families' sizes; empty when unknown."""
    c = _catalogue()
    if name in c.types:
        return (c.types[name],)
    if name in c.families:
        return c.families[name]
    if name in SPECIAL:
        return tuple(t for f in SPECIAL[name] for t in c.families.get(f, ()))
    return ()


def architectures(name: str) -> frozenset[str]:
    """``{"x86_64"}``, ``{"arm64"}``, ...: the union over the sizes ``name`` covers."""
    return frozenset().union(*(t.architectures for t in sizes(name)))


def has_nvme(name: str) -> bool:
    """Every size ``name`` covers has NVMe instance storage (d3/d3en's are NVMe hard disks:
    ``info(name).storage_disk`` tells)."""
    found = sizes(name)
    return bool(found) and all(t.nvme for t in found)


def has_nvidia_gpu(name: str) -> bool:
    """Every size ``name`` covers has at least one whole NVIDIA GPU. g6f and gr6f, which have a
    fraction of an L4 (``gpu_partition``), do not count: a Batch job asks for whole GPUs."""
    found = sizes(name)
    return bool(found) and all(t.nvidia_gpu for t in found)


def offered_in(name: str, region: str) -> bool | None:
    """Whether AWS offers ``name`` in ``region``: a type there, a family with at least one size
    there, a special value always. None when the catalogue has no offerings for the region
    (a region newer than the data, GovCloud, China) or ``name`` is unknown."""
    c = _catalogue()
    if region not in c.regions or not known(name):
        return None
    if name in SPECIAL:
        return True
    return any(region in t.regions for t in sizes(name))


def _series(family: str) -> str:
    """The letters before the generation: ``p`` for p4d, ``inf`` for inf2, ``u`` for u-6tb1."""
    match = re.match(r"[a-z]+", family)
    return match.group(0) if match else family


def suggest(name: str, n: int = 5) -> list[str]:
    """Up to ``n`` known names close to an unknown one, best first (empty for a known name).
    AWS spells every name in lower case without spaces, so ``" M5.Large"`` gives ``m5.large``.

    ``m5.huge`` (a known family) gives sizes of m5; ``c5dx.large`` gives ``.large`` of the
    families nearest c5dx; ``p99`` gives families nearest p99, and when none is near, the
    families of its series (p4d, p5, ...)."""
    if known(name):
        return []
    name = name.strip().lower()
    if known(name):  # " M5.Large" -> m5.large
        return [name]
    c = _catalogue()
    family, dot, size = name.partition(".")
    if dot and family in c.families:
        candidates = [t.name for t in c.families[family]]
        return difflib.get_close_matches(name, candidates, n, cutoff=0.0)
    pool = list(c.families) + list(SPECIAL)
    near = difflib.get_close_matches(family, pool, n * 3, cutoff=0.6)
    if not near:
        series = _series(family)
        same = [f for f in c.families if _series(f) == series] or pool
        near = difflib.get_close_matches(family, same, n * 3, cutoff=0.0)
    if not dot:
        return near[:n]
    found = [f"{f}.{size}" for f in near if f"{f}.{size}" in c.types]
    if len(found) < n:  # the size does not exist in those families: whole types near the name
        rest = difflib.get_close_matches(name, list(c.types), n * 2, cutoff=0.6)
        found += [t for t in rest if t not in found]
    return (found or near)[:n]
