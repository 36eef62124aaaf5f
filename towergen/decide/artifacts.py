"""Everything an instance downloads at boot, pinned: URL, version, sha256 and where the checksum
came from. The user-data verifies each file against its sha256 before using it; a mismatch is a
failed step, so the instance marks itself unfit and shuts down (see ``templates/userdata``).

Packages from Amazon Linux 2023's own repositories (``dnf install``) are not listed here: dnf
checks every package's GPG signature against the keys the AMI ships, which is the verification.

To move a pin: fetch the source at the new commit or release, compute each file's sha256 from
those exact bytes, update the entry and its ``source`` note, render again and review the goldens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Artifact:
    """One file an instance downloads."""

    name: str  # where it goes, relative to the step's download folder
    url: str  # an immutable address: a commit, or a versioned release file
    sha256: str
    source: str  # where the checksum came from

    def __post_init__(self) -> None:
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"{self.name}: not a sha256: {self.sha256!r}")
        if not self.url.startswith("https://"):
            raise ValueError(f"{self.name}: not an https URL: {self.url!r}")

    @property
    def host(self) -> str:
        """The host an instance reaches to download it (for subnets without internet)."""
        return urlsplit(self.url).netloc.rpartition("@")[2].split(":")[0]


# --- amazon-ebs-autoscale ------------------------------------------------------------------------
# awslabs/amazon-ebs-autoscale, master at its last commit before the repository was archived
# ("add deprecation", 2024-04-19). It carries the IMDSv2 fix that v2.4.7 lacks (PRs #72 and #74:
# the token header is really sent, and the IMDSv2 setting reaches create-ebs-volume and the
# daemon through /etc/ebs-autoscale.json). Chosen over the community fork clintval/ebs-autoscale
# (AL2023-only, needs ec2:DetachVolume) because every file here could be hashed from the exact
# commit; the fork's history could not be fetched here.
# Known gap at this commit, handled by the user-data: install.sh reads its config through
# $EBS_AUTOSCALE_CONFIG_FILE but no longer sets it (shared/utils.sh stopped exporting it), so
# the user-data exports it before running install.sh.
EBS_AUTOSCALE_REPO = "awslabs/amazon-ebs-autoscale"
EBS_AUTOSCALE_COMMIT = "8c8ac28914bf9302e4f5821ba99daac6e7fc05eb"
EBS_AUTOSCALE_VERSION = f"master@{EBS_AUTOSCALE_COMMIT[:7]} (after v2.4.7)"
_EBS_SOURCE = f"sha256 of the blob at {EBS_AUTOSCALE_REPO}@{EBS_AUTOSCALE_COMMIT}, computed from a git snapshot"


def _ebs(path: str, sha256: str) -> Artifact:
    return Artifact(
        name=path,
        url=f"https://raw.githubusercontent.com/{EBS_AUTOSCALE_REPO}/{EBS_AUTOSCALE_COMMIT}/{path}",
        sha256=sha256,
        source=_EBS_SOURCE,
    )


# The files install.sh and the systemd service use (the rest of the repository is not needed).
EBS_AUTOSCALE: tuple[Artifact, ...] = (
    _ebs("install.sh", "4d6b2719d46800ef67636f234fa7e7100ae52256287eaeed23a40814e71fa2af"),
    _ebs("bin/create-ebs-volume", "1bbca1c9062ff5f00b3967c018519bd744c8ff16c88e904e71a7d0ea170a6176"),
    _ebs("bin/ebs-autoscale", "2c5f1704c0dc736f70f0e1661b869846560c8a85b17115b29a80edb408c3da31"),
    _ebs("shared/utils.sh", "03d6565e4ae8b6d18473c3c589ec4c962c4922899d0a83719a924e9f6403e92f"),
    _ebs("config/ebs-autoscale.json", "a8bcc723382c7c04887c477a0c474f20d65646273026516d24c0448ccde61769"),
    _ebs("config/ebs-autoscale.logrotate", "e07ccb5aa0219d45351cd9b508e591bbf96b72069e6d35b879e6df8bd8adc043"),
    _ebs("service/systemd/ebs-autoscale.service", "055f985997a6d1a52aa011bb5ed4297997dd84ffe45114cf3af57b69a07ff014"),
    _ebs("service/systemd/install.sh", "e9c98faae5ee6a863495ace332cb98cd07c469e831604a62140857b742e0cae1"),
)

# --- the AWS CLI that Nextflow mounts into task containers (aws.batch.cliPath) -------------------
# The platform's own launch template unpacks a versioned, self-contained bundle
# (nf-xpack.seqera.io/miniconda-awscli/miniconda-25.3.1-awscli-1.40.12.tar.gz). Its bytes could
# not be fetched here and no published checksum was found, so towergen cannot pin it; a user who
# has the bundle can pin it with compute.aws_cli {url, sha256}.
# The default is AWS CLI v2 (self-contained: it bundles its own Python) from AWS's versioned
# release files, installed into /opt/aws-cli; Nextflow mounts /opt/aws-cli into every task.
# The checksums were NOT computed here (AWS's download host is out of reach). They are the values
# that two independent projects recorded for these exact URLs and check before installing, and
# the two agree: cashapp/hermit-packages (awscli.hcl @ 02766bcea767eee5885ba90122389a6a1bbbfaee)
# and zulip/zulip (puppet/kandra/files/install-aws-cli @ e24b53410ba2a76ef2d7574f46250988f0f45bcb).
# 2.23.6 is the newest version both record (in the copies of those files read for this pin).
AWS_CLI_VERSION = "2.23.6"
AWS_CLI_INSTALL_DIR = "/opt/aws-cli"
AWS_CLI_PATH = f"{AWS_CLI_INSTALL_DIR}/bin/aws"
# AWS CLI v2 is a PyInstaller one-folder build, self-contained but for one library: PyInstaller's
# bootloader links libz.so.1 dynamically (pyinstaller/pyinstaller bootloader/wscript, unless
# built with --static-zlib), and a task container without zlib (nf-core biocontainers: busybox
# and glibc) cannot start it: "error while loading shared libraries: libz.so.1", exit 127. So the
# step copies the host's libz.so.1 (Amazon Linux's zlib, signature-checked by dnf) into
# AWS_CLI_LIB_DIR, and AWS_CLI_PATH is a POSIX sh wrapper that puts that folder on
# LD_LIBRARY_PATH and execs the real binary, which AWS's installer puts at
# <install-dir>/v2/<version>/dist/aws with v2/current linked to it (aws/aws-cli
# exe/assets/install). Nextflow mounts the whole tree (the grandparent of cliPath, read-only:
# nf-amazon AwsBatchTaskHandler), so all three are there in every task container.
AWS_CLI_LIB_DIR = f"{AWS_CLI_INSTALL_DIR}/lib"
AWS_CLI_BINARY = f"{AWS_CLI_INSTALL_DIR}/v2/current/dist/aws"
_AWS_CLI_SOURCE = (
    "not computed here (the host is out of reach): recorded for this URL, identically, by "
    "cashapp/hermit-packages awscli.hcl @ 02766bcea767eee5885ba90122389a6a1bbbfaee and "
    "zulip/zulip puppet/kandra/files/install-aws-cli @ e24b53410ba2a76ef2d7574f46250988f0f45bcb"
)
AWS_CLI: dict[str, Artifact] = {
    "x86_64": Artifact(
        name="awscliv2.zip",
        url=f"https://awscli.amazonaws.com/awscli-exe-linux-x86_64-{AWS_CLI_VERSION}.zip",
        sha256="8d26ffa2e9427804a9f8928c692ee83e1c88456e0519a69e63bc992caf2b2339",
        source=_AWS_CLI_SOURCE,
    ),
    "aarch64": Artifact(
        name="awscliv2.zip",
        url=f"https://awscli.amazonaws.com/awscli-exe-linux-aarch64-{AWS_CLI_VERSION}.zip",
        sha256="9c2b05dfc370cc99ec47ad374be52b828cd77d14702b2edae071d73224aacd6e",
        source=_AWS_CLI_SOURCE,
    ),
}

# The platform's bundle, when the user pins it with compute.aws_cli: unpacked at / it gives
# this path (as the platform's launch template does).
PLATFORM_BUNDLE_CLI_PATH = "/home/ec2-user/miniconda/bin/aws"


def all_artifacts() -> list[Artifact]:
    return [*EBS_AUTOSCALE, *AWS_CLI.values()]
