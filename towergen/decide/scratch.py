"""Where an instance keeps its scratch data (task files, Fusion's cache), decided once from the
environment (pure functions). Not the S3 work bucket: that is ``Resolved.work_bucket``.

What the platform's Batch Forge builds today (../shared/spec/runtime-facts.md):

- **Fusion v2 + Wave with fast instance storage**: the instance's NVMe instance-store disks are
  formatted (one disk: xfs; several: an LVM stripe over all of them, then xfs) and mounted at
  ``/scratch/fusion`` for Fusion's cache, with the kernel writeback limits the platform sets. When
  the types are ``optimal``, towergen lists NVMe families instead (``optimal`` picks c4/m4/r4,
  which have none), and only when every type has NVMe does the platform JSON say
  ``nvnmeStorageEnabled: true``.
- **Fusion without NVMe** (types the user listed, some without instance storage): the cache is on
  the boot disk, which Forge makes a 100 GB gp3 volume at 325 MB/s.
- **No Fusion**: the boot disk (the default), or amazon-ebs-autoscale (opt-in, legacy: the
  platform deprecated it in 24.1 and refuses it for new environments since December 2025).
- **Fusion and EBS autoscale together** (the seed walk-through asks for both; its "Fusion
  mounts" were Fusion v1): EBS autoscale is not installed. Fusion keeps its cache filled up to
  the free space it sees, so on an autoscaled volume every instance would grow its volume to the
  maximum for a cache; Seqera calls the two incompatible; and the instance role would need
  CreateVolume/AttachVolume for nothing. The cache goes on NVMe (or the larger boot disk), and
  render warns that ``ebs_autoscale`` is ignored.
- **GPU with ``optimal`` types**: ``optimal`` never picks GPU instances, so towergen lists
  NVIDIA GPU families that the ECS GPU AMI supports and that all have NVMe instance storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..spec import instances
from ..spec.model import Environment

# Families towergen lists in place of ``optimal``, in order of preference; each region gets those
# it offers (spec/instances.py: AWS's own offerings data), the first three. c6id/m6id/r6id are the
# families Forge picks for Fusion with fast instance storage; g4dn/g5/g6 are NVIDIA families (T4,
# A10G, L4) that the ECS GPU AMI runs and that all carry NVMe instance storage, so they also suit
# Fusion. All are x86_64, for the x86_64 ECS AMI.
NVME_DEFAULT_FAMILIES = ("c6id", "m6id", "r6id")
NVME_FALLBACK_FAMILIES = ("c5d", "m5d", "r5d", "c5ad", "m5ad", "r5ad")
GPU_DEFAULT_FAMILIES = ("g4dn", "g5", "g6")
GPU_FALLBACK_FAMILIES = ("g6e", "p3dn")
DEFAULT_COUNT = 3

FUSION_CACHE_PATH = "/scratch/fusion"
# Forge's boot disk for Fusion without NVMe: 100 GB gp3 at 325 MB/s.
FUSION_BOOT_DISK_GIB = 100
FUSION_BOOT_DISK_THROUGHPUT = 325
# The platform's Fusion launch template sets these so heavy writers are not OOM-killed.
DIRTY_BYTES = 1258291200
DIRTY_BACKGROUND_BYTES = 629145600

Scratch = Literal["nvme", "boot-disk", "ebs-autoscale"]


def has_nvme(instance_type: str) -> bool:
    """Whether every size the name stands for has NVMe instance storage (per size for a sized
    type: ``m6id.2xlarge``; for a family, all its sizes). A type the catalogue does not know
    counts as having none: the cost of a wrong "no" is a larger boot disk and
    nvnmeStorageEnabled false, while a wrong "yes" would promise the platform a disk that is
    not there. The user-data still uses any NVMe instance storage it finds at boot."""
    return instances.has_nvme(instance_type)


def has_nvidia_gpu(instance_type: str) -> bool:
    """Whether every size the name stands for has NVIDIA GPUs (which the ECS GPU AMI serves)."""
    return instances.has_nvidia_gpu(instance_type)


def defaults_for(region: str, preferred: tuple[str, ...], fallback: tuple[str, ...]) -> tuple[str, ...]:
    """The families towergen lists in place of ``optimal`` in ``region``: the preferred ones the
    region offers, else the first fallbacks it offers (a region whose offerings the catalogue
    lacks gets the preferred ones)."""
    offered = [f for f in preferred if instances.offered_in(f, region) is not False]
    if not offered:
        offered = [f for f in fallback if instances.offered_in(f, region) is not False][:DEFAULT_COUNT]
    return tuple(offered) or preferred


def only_optimal(types: tuple[str, ...] | list[str]) -> bool:
    return all(t == "optimal" for t in types)


@dataclass(frozen=True)
class ScratchPlan:
    instance_types: tuple[str, ...]  # what the work compute environment gets
    types_replaced: Literal["nvme", "gpu"] | None  # optimal replaced by towergen's families
    fusion: bool
    nvme: bool  # every work instance type has NVMe instance storage (nvnmeStorageEnabled)
    scratch: Scratch  # where task data lives on the instance
    autoscale: bool  # amazon-ebs-autoscale is installed
    autoscale_ignored: bool  # asked for, but not installed because Fusion is on
    boot_disk_gib: int
    boot_disk_throughput: int | None  # MB/s, None: gp3's baseline
    fusion_cache_path: str | None


def scratch_plan(env: Environment) -> ScratchPlan:
    """Where a forge-mode environment's instances keep task data, and on which instance types."""
    c = env.compute
    fusion = c.fusion
    types = tuple(c.instance_types)
    replaced: Literal["nvme", "gpu"] | None = None
    if only_optimal(types):
        if c.gpu:
            types, replaced = defaults_for(env.region, GPU_DEFAULT_FAMILIES, GPU_FALLBACK_FAMILIES), "gpu"
        elif fusion:
            types, replaced = defaults_for(env.region, NVME_DEFAULT_FAMILIES, NVME_FALLBACK_FAMILIES), "nvme"
    nvme = fusion and all(has_nvme(t) for t in types)
    asked = c.ebs_autoscale.enabled
    autoscale = asked and not fusion
    boot_disk = c.boot_disk_gib
    throughput = None
    if fusion and not nvme:
        throughput = FUSION_BOOT_DISK_THROUGHPUT
        if "boot_disk_gib" not in c.model_fields_set:
            boot_disk = max(boot_disk, FUSION_BOOT_DISK_GIB)
    scratch: Scratch = "nvme" if nvme else "ebs-autoscale" if autoscale else "boot-disk"
    return ScratchPlan(
        instance_types=types,
        types_replaced=replaced,
        fusion=fusion,
        nvme=nvme,
        scratch=scratch,
        autoscale=autoscale,
        autoscale_ignored=asked and fusion,
        boot_disk_gib=boot_disk,
        boot_disk_throughput=throughput,
        fusion_cache_path=FUSION_CACHE_PATH if fusion else None,
    )
