"""Finding and running Terraform (or OpenTofu).

The binary is ``$TOWERGEN_TERRAFORM``, else ``terraform`` on PATH, else ``tofu``. Provider
installation follows the user's own CLI configuration; on an offline machine a folder laid out
as a provider mirror (``<host>/<namespace>/<type>/<version>/<os_arch>/``) can be given with
``--plugin-mirror`` or ``$TOWERGEN_PLUGIN_MIRROR`` and is passed to ``terraform init -plugin-dir``
(which links the provider from there instead of downloading or copying it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TerraformError

INSTALL_HINT = (
    "install Terraform (https://developer.hashicorp.com/terraform/install) or OpenTofu "
    "(https://opentofu.org/docs/intro/install/), or set TOWERGEN_TERRAFORM to its path"
)


def find_binary(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    given = environ.get("TOWERGEN_TERRAFORM")
    if given:
        found = shutil.which(given)
        if not found:
            raise TerraformError(f"TOWERGEN_TERRAFORM is {given!r}, which is not an executable; {INSTALL_HINT}")
        return found
    for name in ("terraform", "tofu"):
        found = shutil.which(name, path=environ.get("PATH"))
        if found:
            return found
    raise TerraformError(f"neither terraform nor tofu is on PATH; {INSTALL_HINT}")


# Where provider mirrors usually are on a machine without internet (the first holding
# hashicorp/aws is suggested when terraform init cannot reach the registry; .ci/run uses it).
MIRROR_PLACES = ("/opt/tf-plugins", "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins",
                 "~/.terraform.d/plugins", "~/.local/share/terraform/plugins")
AWS_IN_MIRROR = Path("registry.terraform.io") / "hashicorp" / "aws"


def known_mirror(places: Sequence[str] | None = None) -> Path | None:
    """The first of ``places`` (default: ``MIRROR_PLACES``) laid out as a provider mirror
    holding hashicorp/aws."""
    for place in MIRROR_PLACES if places is None else places:
        path = Path(place).expanduser()
        if (path / AWS_IN_MIRROR).is_dir():
            return path
    return None


# What Terraform says when it cannot reach the registry to install a provider.
_REGISTRY_DOWN = ("Failed to query available provider packages", "could not connect to registry",
                  "Failed to install provider", "dial tcp", "no such host")


def init_hint(output: str, mirror: Path | None) -> str | None:
    """One line on how to run without the registry, when ``output`` says it was out of reach."""
    if not any(words in output for words in _REGISTRY_DOWN):
        return None
    if mirror is not None:
        return None  # a mirror was used: the problem is elsewhere (Terraform's words say where)
    found = known_mirror()
    if found is not None:
        return (f"hint: terraform could not reach the registry; this machine has a provider mirror at {found}: "
                f"run again with --plugin-mirror {found} (or TOWERGEN_PLUGIN_MIRROR={found})")
    return ("hint: terraform could not reach the registry; on a machine without internet, point towergen at a provider mirror "
            "with --plugin-mirror DIR (a folder laid out as DIR/registry.terraform.io/hashicorp/aws/VERSION/OS_ARCH/)")


def find_plugin_mirror(option: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    environ = os.environ if environ is None else environ
    given = option or environ.get("TOWERGEN_PLUGIN_MIRROR")
    if not given:
        return None
    path = Path(given).expanduser()
    if not path.is_dir():
        raise TerraformError(f"the plugin mirror {str(path)!r} is not a folder")
    return path.resolve()


@dataclass
class Terraform:
    """One Terraform binary with the environment and provider source to run it with."""

    binary: str
    plugin_mirror: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def discover(cls, plugin_mirror: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Terraform:
        environ = dict(os.environ if environ is None else environ)
        return cls(find_binary(environ), find_plugin_mirror(plugin_mirror, environ), environ)

    def environment(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
        env = dict(self.env)
        env["TF_IN_AUTOMATION"] = "1"
        env["TF_INPUT"] = "0"
        # A TF_CLI_CONFIG_FILE that names a missing file only makes Terraform warn on every call.
        config = env.get("TF_CLI_CONFIG_FILE")
        if config and not Path(config).expanduser().is_file():
            del env["TF_CLI_CONFIG_FILE"]
        for key, value in (extra or {}).items():
            if value is None:
                env.pop(key, None)  # None removes a variable
            else:
                env[key] = value
        return env

    def argv(self, command: str, *args: str) -> list[str]:
        argv = [self.binary, command, *args]
        if command == "init" and self.plugin_mirror is not None:
            argv.append(f"-plugin-dir={self.plugin_mirror}")
        return argv

    def run(
        self,
        command: str,
        *args: str,
        cwd: str | Path,
        extra_env: Mapping[str, str | None] | None = None,
        on_line: Callable[[str], None] | None = None,
        check: bool = True,
        ok_codes: Sequence[int] = (0,),
    ) -> subprocess.CompletedProcess[str]:
        """Run a Terraform command; its combined output is returned (and streamed to ``on_line``)."""
        argv = self.argv(command, *args)
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=self.environment(extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))
        code = proc.wait()
        result = subprocess.CompletedProcess(argv, code, "".join(lines), "")
        if check and code not in ok_codes:
            raise TerraformError(f"terraform {command} failed in {cwd} (exit {code}):\n{result.stdout.rstrip()}")
        return result
