"""What a forge instance runs while it boots: the user-data steps, in the order cloud-init runs
them (by file name), each with the plain values its script needs.

The steps are decided here, once; ``towergen.renderer.userdata`` only escapes the values and
prints each step's template (``templates/userdata``). The hosts an instance downloads from are
read off the pinned artifacts' URLs, so they cannot disagree with what the scripts fetch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..spec.model import Environment
from . import artifacts
from .artifacts import Artifact
from .scratch import DIRTY_BACKGROUND_BYTES, DIRTY_BYTES, ScratchPlan


@dataclass(frozen=True)
class TemplateVar:
    """A value Terraform fills in when it renders the user-data (``templatefile``): a name AWS
    gives a resource towergen creates in the same apply."""

    name: str


@dataclass(frozen=True)
class Note:
    """Text for a comment in a step's script (a version), not a value the script uses."""

    text: str


@dataclass(frozen=True)
class BootStep:
    file: str  # the MIME part's file name: cloud-init runs the parts in this order
    template: str  # templates/userdata/<template>
    settings: tuple[tuple[str, Any], ...] = ()  # plain values: str, int, Note, TemplateVar, Artifact, tuples

    def values(self) -> dict[str, Any]:
        return dict(self.settings)

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        return tuple(_walk(self.settings, Artifact))

    @property
    def template_vars(self) -> tuple[str, ...]:
        return tuple(v.name for v in _walk(self.settings, TemplateVar))


def _walk(value: Any, kind: type) -> Iterator[Any]:
    if isinstance(value, kind):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _walk(item, kind)


FSX_DNS_NAME = TemplateVar("fsx_dns_name")
FSX_MOUNT_NAME = TemplateVar("fsx_mount_name")


def boot_steps(env: Environment, scratch: ScratchPlan, *, cli_path: str | None, fsx_create: bool) -> tuple[BootStep, ...]:
    """The user-data steps of a forge-mode environment (``cli_path``: the AWS CLI tasks use,
    None with Fusion; ``fsx_create``: towergen creates the file system in the same apply)."""
    c = env.compute
    steps = [BootStep("10-ecs.sh", "ecs.sh.j2")]
    if scratch.fusion:
        steps.append(BootStep("20-fusion-storage.sh", "fusion.sh.j2", (
            ("cache_path", scratch.fusion_cache_path),
            ("dirty_bytes", DIRTY_BYTES),
            ("dirty_background_bytes", DIRTY_BACKGROUND_BYTES),
        )))
    elif scratch.autoscale:
        auto = c.ebs_autoscale
        steps.append(BootStep("20-ebs-autoscale.sh", "ebs-autoscale.sh.j2", (
            ("version", Note(artifacts.EBS_AUTOSCALE_VERSION)),
            ("files", artifacts.EBS_AUTOSCALE),
            ("mount_path", auto.mount_path),
            ("initial_size_gib", auto.initial_size_gib),
            ("max_size_gib", auto.max_size_gib),
        )))
    if cli_path is not None:
        if c.aws_cli is None:
            steps.append(BootStep("30-aws-cli.sh", "aws-cli.sh.j2", (
                ("version", Note(artifacts.AWS_CLI_VERSION)),
                ("install_dir", artifacts.AWS_CLI_INSTALL_DIR),
                ("lib_dir", artifacts.AWS_CLI_LIB_DIR),
                ("binary", artifacts.AWS_CLI_BINARY),
                ("cli_path", artifacts.AWS_CLI_PATH),
                ("by_arch", tuple(sorted(artifacts.AWS_CLI.items()))),
            )))
        else:
            bundle = Artifact(name="aws-cli.tar.gz", url=c.aws_cli.url, sha256=c.aws_cli.sha256, source="compute.aws_cli")
            steps.append(BootStep("30-aws-cli.sh", "aws-cli-bundle.sh.j2", (("bundle", bundle), ("cli_path", cli_path))))
    fsx = env.fsx
    if fsx is not None:
        dns: str | TemplateVar | None = FSX_DNS_NAME if fsx_create else fsx.dns_name
        mount: str | TemplateVar | None = FSX_MOUNT_NAME if fsx_create else fsx.mount_name
        steps.append(BootStep("40-fsx.sh", "fsx.sh.j2", (("dns_name", dns), ("mount_name", mount), ("mount_path", fsx.mount_path))))
    steps.append(BootStep("90-start-ecs.sh", "start-ecs.sh.j2"))
    return tuple(steps)


def download_hosts(steps: tuple[BootStep, ...]) -> tuple[str, ...]:
    """The hosts outside AWS's own services that an instance downloads from while it boots
    (Amazon Linux's package repositories aside), in the order the steps reach them."""
    return tuple(dict.fromkeys(a.host for step in steps for a in step.artifacts))
