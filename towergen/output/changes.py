"""A fleet across git revisions: which environments' output changed since a revision.

Both sides are read from the manifest (``towergen-manifest.json``) that ``render`` keeps in the
output folder: the one in the working tree, and the one at the revision (``git show REV:path``).
An environment counts as changed when its sha256 differs, or when it is new since the revision.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError, TowergenError
from .manifest import MANIFEST, parse_manifest


@dataclass(frozen=True)
class Changed:
    since: str
    changed: list[str]  # in the current manifest, new or with another sha256 than at ``since``
    removed: list[str]  # in the manifest at ``since``, not in the current one (pruned since)


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as exc:
        raise TowergenError(f"cannot run git: {exc.strerror or exc}") from None


def changed_since(since: str, out: Path) -> Changed:
    manifest = out / MANIFEST
    try:
        current = parse_manifest(manifest.read_bytes(), manifest)["environments"]
    except FileNotFoundError:
        raise OutputError(f"expected towergen's manifest {manifest}, found none: render into {out} first") from None
    except OSError as exc:
        raise OutputError(f"cannot read {manifest}: {exc.strerror or exc}") from None
    folder = Path(os.path.abspath(out))
    while not folder.is_dir():
        folder = folder.parent
    top = _git(["rev-parse", "--show-toplevel"], folder)
    if top.returncode != 0:
        raise TowergenError(f"{out} is not in a git repository: {top.stderr.decode(errors='replace').strip()}")
    toplevel = Path(top.stdout.decode().strip())
    if since.startswith("-"):
        raise TowergenError(f"expected a git revision, found {since!r}")
    rev = _git(["rev-parse", "--verify", "--quiet", f"{since}^{{commit}}"], toplevel)
    if rev.returncode != 0:
        raise TowergenError(f"expected a git revision (a commit, branch or tag), found {since!r}")
    commit = rev.stdout.decode().strip()
    rel = Path(os.path.relpath(os.path.realpath(manifest), os.path.realpath(toplevel))).as_posix()
    shown = _git(["show", f"{commit}:{rel}"], toplevel)
    if shown.returncode == 0:
        before = parse_manifest(shown.stdout, f"{since}:{rel}")["environments"]
    elif _git(["cat-file", "-e", f"{commit}:{rel}"], toplevel).returncode != 0:
        before = {}  # no manifest at that revision: every environment is new
    else:
        raise TowergenError(f"git show {since}:{rel} failed: {shown.stderr.decode(errors='replace').strip()}")
    changed = sorted(name for name, entry in current.items() if before.get(name, {}).get("sha256") != entry["sha256"])
    removed = sorted(set(before) - set(current))
    return Changed(since, changed, removed)
