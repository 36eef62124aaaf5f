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

from ..spec.model import Environment

# Families towergen lists in place of ``optimal``. c6id/m6id/r6id are the families Forge picks for
# Fusion with fast instance storage; g4dn/g5/g6 are NVIDIA families (T4, A10G, L4) that the ECS
# GPU AMI runs and that all carry NVMe instance storage, so they also suit Fusion.
NVME_DEFAULT_FAMILIES = ("c6id", "m6id", "r6id")
GPU_DEFAULT_FAMILIES = ("g4dn", "g5", "g6")

# Families whose every size has NVMe SSD instance storage (AWS instance-type specifications).
# Types not listed count as having none: the cost of a wrong "no" is a larger boot disk and
# nvnmeStorageEnabled false, while a wrong "yes" would promise the platform a disk that is not
# there. The user-data still uses any NVMe instance storage it finds at boot.
NVME_FAMILIES = frozenset(
    """
    c5d c5ad c6gd c6id c7gd c8gd
    m5d m5ad m5dn m6gd m6id m6idn m7gd m8gd
    r5d r5ad r5dn r6gd r6id r6idn r7gd r8gd
    x2gd x2idn x2iedn z1d
    i3 i3en i4g i4i im4gn is4gen i7ie i8g
    d3 d3en
    g4dn g4ad g5 g6 g6e gr6 p3dn p4d p4de p5 p5e p5en dl1 trn1 trn1n
    """.split()
)

# Families with NVIDIA GPUs, which the ECS GPU AMI serves (g4ad has AMD GPUs; inf, trn and dl1 are
# not GPUs).
NVIDIA_GPU_FAMILIES = frozenset("p2 p3 p3dn p4d p4de p5 p5e p5en g3 g3s g4dn g5 g5g g6 g6e gr6".split())

FUSION_CACHE_PATH = "/scratch/fusion"
# Forge's boot disk for Fusion without NVMe: 100 GB gp3 at 325 MB/s.
FUSION_BOOT_DISK_GIB = 100
FUSION_BOOT_DISK_THROUGHPUT = 325
# The platform's Fusion launch template sets these so heavy writers are not OOM-killed.
DIRTY_BYTES = 1258291200
DIRTY_BACKGROUND_BYTES = 629145600

Scratch = Literal["nvme", "boot-disk", "ebs-autoscale"]


def family(instance_type: str) -> str:
    """``m6id.2xlarge`` -> ``m6id``; a family stays as it is."""
    return instance_type.split(".", 1)[0]


def has_nvme(instance_type: str) -> bool:
    return family(instance_type) in NVME_FAMILIES


def has_nvidia_gpu(instance_type: str) -> bool:
    return family(instance_type) in NVIDIA_GPU_FAMILIES


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
            types, replaced = GPU_DEFAULT_FAMILIES, "gpu"
        elif fusion:
            types, replaced = NVME_DEFAULT_FAMILIES, "nvme"
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
