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
from .manifest import MANIFEST, MAX_BYTES, parse_manifest, read_manifest_file


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
    found = read_manifest_file(manifest)
    if found is None:
        raise OutputError(f"expected towergen's manifest {manifest}, found none: render into {out} first")
    current = found.environments
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
    listed = _git(["ls-tree", "-l", commit, "--", rel], toplevel)
    entry = listed.stdout.decode(errors="replace").split()
    if listed.returncode != 0 or not entry:
        before = {}  # no manifest at that revision: every environment is new
    else:
        mode, kind, size = entry[0], entry[1], entry[3]
        if (mode != "100644" and mode != "100755") or kind != "blob":
            raise OutputError(f"{since}:{rel}: expected towergen's manifest, a regular file, found git mode {mode} ({kind})")
        if not size.isdigit() or int(size) > MAX_BYTES:
            raise OutputError(f"{since}:{rel}: expected a manifest of at most {MAX_BYTES >> 20} MiB, found {size} bytes")
        shown = _git(["cat-file", "blob", f"{commit}:{rel}"], toplevel)
        if shown.returncode != 0:
            raise TowergenError(f"git cat-file {since}:{rel} failed: {shown.stderr.decode(errors='replace').strip()}")
        before = parse_manifest(shown.stdout, f"{since}:{rel}").environments
    changed = sorted(name for name, now in current.items() if (before[name].sha256 if name in before else None) != now.sha256)
    removed = sorted(set(before) - set(current))
    return Changed(since, changed, removed)
