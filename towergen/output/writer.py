"""Writing the output tree: safely, completely or not at all, and never through a symbolic link.

The order of a write (``write_output``):

1. open the output folder (created if missing) without following a link, and take an advisory
   lock on it (``flock`` on the folder itself, so no lock file is left in a committed tree): a
   second render into the same folder waits for the first;
2. remove the staging folders earlier renders left behind when they were killed (only folders
   that hold towergen's marker file and whose owner is gone);
3. plan: open every target folder (refusing links and files where a folder belongs), stat every
   target file (refusing links, folders and special files), read the manifest;
4. stage: write every new or changed file, and create every missing folder, inside a staging
   folder ``.towergen-staging-*`` in the output folder. An OS error here (a full disk, no
   inodes, a read-only folder) leaves the tree exactly as it was;
5. commit: move each missing folder into place whole, each other file with ``rename`` (atomic
   per file), delete what towergen no longer writes, write the manifest last.

Every step works relative to folder handles opened with ``O_NOFOLLOW``: a link swapped in
while a render runs is never followed. Every OS error becomes an ``OutputError`` naming the
path and the reason. An error or an interrupt during step 5 (a few renames) says that the tree
is part old, part new, and to render again.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Interrupted, OutputError, Problem
from .folders import (
    FILE_READ,
    PART_OLD_PART_NEW,
    Tree,
    locked,
    open_root,
    os_errors,
    output_path,
    parts,
    reason,
    remove_created,
)
from .manifest import MANIFEST, env_digests, manifest_text, read_manifest_at, source_exists, source_rel
from .ownership import Ownership
from .staging import Staging, remove_stale_staging


@dataclass(frozen=True)
class Change:
    action: str  # create | overwrite | identical | delete
    path: str  # relative to the output folder, with "/"


@dataclass(frozen=True)
class EnvSource:
    """An environment rendered this time: its name, its file, and its files in the tree."""

    name: str
    source: Path


@dataclass
class WriteResult:
    changes: list[Change]
    orphans: list[str] = field(default_factory=list)  # in the manifest, file gone, kept or pruned
    warnings: list[Problem] = field(default_factory=list)


# --- planning ------------------------------------------------------------------------------------


@dataclass
class _Plan:
    changes: list[Change]
    data: dict[str, bytes]  # what to write, by path
    deletes: list[str]
    prune_folders: list[str]


def _file_state(tree: Tree, rel: str) -> tuple[str, os.stat_result | None]:
    folder, _, name = rel.rpartition("/")
    fd = tree.folder(folder)
    if fd is None:
        return "missing", None
    shown = tree.display(rel)
    try:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return "missing", None
    except OSError as exc:
        raise OutputError(f"cannot read {shown}: {reason(exc)}; nothing was written") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"refusing to write through the symbolic link {shown}")
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"refusing to replace the folder {shown} with a file")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"refusing to replace {shown}: it is not a regular file")
    return "file", st


def _read_start(tree: Tree, rel: str, size: int) -> bytes | None:
    """The first ``size`` bytes of a file of the tree (None: it was deleted meanwhile)."""
    folder, _, name = rel.rpartition("/")
    with os_errors("read", tree.display(rel), "nothing was written"):
        try:
            fd = os.open(name, FILE_READ, dir_fd=tree.folder(folder))
        except FileNotFoundError:
            return None
        with open(fd, "rb") as fh:
            return fh.read(size)


def _same_content(tree: Tree, rel: str, st: os.stat_result, data: bytes) -> bool | None:
    """Whether the file holds exactly ``data`` (None: it was deleted meanwhile)."""
    if st.st_size != len(data):
        return False
    found = _read_start(tree, rel, len(data) + 1)
    return None if found is None else found == data


def _starts_with_mark(tree: Tree, rel: str, mark: bytes) -> bool:
    return _read_start(tree, rel, len(mark)) == mark


def _marked_in(tree: Tree, folder: str, owned: Ownership) -> set[str]:
    """The files of ``folder`` with a marked name that towergen wrote (they start with its mark)."""
    if not owned.marked:
        return set()
    return {rel for rel in _generated_in(tree, folder, owned.marked) if _starts_with_mark(tree, rel, owned.mark)}


def _generated_in(tree: Tree, folder: str, names: Iterable[str] | None) -> set[str]:
    """The regular files of ``folder`` with one of ``names`` (any name when None)."""
    fd = tree.folder(folder)
    if fd is None:
        return set()
    allowed = None if names is None else set(names)
    found = set()
    with os_errors("list", tree.display(folder), "nothing was written"):
        for entry in os.scandir(fd):
            if (allowed is None or entry.name in allowed) and entry.is_file(follow_symlinks=False):
                found.add(f"{folder}/{entry.name}")
    return found


def _plan(tree: Tree, files: dict[str, str], owned: Ownership, pruned: Iterable[str]) -> _Plan:
    changes: list[Change] = []
    data: dict[str, bytes] = {}
    for rel, text in sorted(files.items()):
        parts(rel)
        encoded = text.encode("utf-8")
        state, st = _file_state(tree, rel)
        if state != "missing" and rel.rpartition("/")[2] in owned.marked and not _starts_with_mark(tree, rel, owned.mark):
            raise OutputError(
                f"refusing to overwrite {tree.display(rel)}: it is not towergen's (it does not start with "
                f"{owned.mark.decode()!r}); move it away, or remove the environment file's backend section"
            )
        same = None if st is None else _same_content(tree, rel, st, encoded)
        if same is None:
            changes.append(Change("create", rel))
            data[rel] = encoded
        elif same:
            changes.append(Change("identical", rel))
        else:
            changes.append(Change("overwrite", rel))
            data[rel] = encoded
    # Files towergen wrote before and does not write now: only its own names, in its own folders.
    stale: set[str] = set()
    for folder, names in owned.folders.items():
        stale |= _generated_in(tree, folder, names)
        if names is not None:
            stale |= _marked_in(tree, folder, owned)
    pruned = sorted(pruned)
    for name in pruned:
        stale |= _generated_in(tree, name, owned.env_files) | _marked_in(tree, name, owned)
    deletes = sorted(stale - files.keys())
    changes.extend(Change("delete", rel) for rel in deletes)
    return _Plan(changes, data, deletes, pruned)


def _top_missing(tree: Tree, folder: str) -> str | None:
    """The highest folder on the way to ``folder`` that does not exist yet (None: all exist)."""
    parts = folder.split("/") if folder else []
    for i in range(1, len(parts) + 1):
        rel = "/".join(parts[:i])
        if tree.folder(rel) is None:
            return rel
    return None


def _commit(tree: Tree, staging: Staging, plan: _Plan, last: str | None) -> None:
    moved_folders: set[str] = set()
    later = []
    for rel in sorted(plan.data):
        folder, _, name = rel.rpartition("/")
        parts = folder.split("/") if folder else []
        if any("/".join(parts[:i]) in moved_folders for i in range(1, len(parts) + 1)):
            continue  # its folder was moved into place whole
        top = _top_missing(tree, folder)
        if top is not None:
            if top not in moved_folders:
                parent, _, base = top.rpartition("/")
                _move_folder(tree, staging, top, parent, base)
                moved_folders.add(top)
            continue
        if rel == last:
            later.append(rel)
            continue
        with os_errors("move into place", tree.display(rel), PART_OLD_PART_NEW):
            os.replace(name, name, src_dir_fd=staging.folder(folder), dst_dir_fd=tree.folder(folder))
    for rel in plan.deletes:
        folder, _, name = rel.rpartition("/")
        with os_errors("delete", tree.display(rel), PART_OLD_PART_NEW):
            try:
                os.unlink(name, dir_fd=tree.folder(folder))
            except FileNotFoundError:
                pass  # already gone (another render, or the user)
    for name in plan.prune_folders:
        try:
            os.rmdir(name, dir_fd=tree.fds[""])
        except OSError:
            pass  # it still holds files that are not towergen's (state, .terraform): left alone
    for rel in later:
        folder, _, name = rel.rpartition("/")
        with os_errors("move into place", tree.display(rel), PART_OLD_PART_NEW):
            os.replace(name, name, src_dir_fd=staging.folder(folder), dst_dir_fd=tree.folder(folder))




def _move_folder(tree: Tree, staging: Staging, rel: str, parent: str, base: str) -> None:
    """Move a whole staged folder into place; when one appeared meanwhile, merge file by file."""
    dst = tree.folder(parent)
    src = staging.folder(parent)
    with os_errors("move into place", tree.display(rel), PART_OLD_PART_NEW):
        try:
            os.rename(base, base, src_dir_fd=src, dst_dir_fd=dst)
            tree.fds.pop(rel, None)
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    tree.fds.pop(rel, None)
    if tree.folder(rel) is None:
        raise OutputError(f"cannot move {tree.display(rel)} into place; {PART_OLD_PART_NEW}")
    for entry in sorted(os.scandir(staging.folder(rel)), key=lambda e: e.name):
        child = f"{rel}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            _move_folder(tree, staging, child, rel, entry.name)
        else:
            with os_errors("move into place", tree.display(child), PART_OLD_PART_NEW):
                os.replace(entry.name, entry.name, src_dir_fd=staging.folder(rel), dst_dir_fd=tree.folder(rel))


# --- the entry point -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestUpdate:
    """The environments rendered this time, for the manifest, and towergen's version."""

    envs: list[EnvSource]
    version: str


def write_output(out_dir: str | os.PathLike[str], files: dict[str, str], owned: Ownership, *,
                 manifest: ManifestUpdate | None = None, check: bool = False, prune: bool = False) -> WriteResult:
    """Write ``files`` (paths relative to the output folder) and delete the files towergen wrote
    before and no longer writes (``owned``). With ``manifest`` the manifest is kept too (see
    ``MANIFEST``): each environment rendered is recorded with its file; one recorded before whose
    file is gone is an orphan, kept (and warned about) unless ``prune``. With ``check`` nothing is
    written: the result says what a render would do."""
    root = output_path(out_dir)
    root_fd, created = open_root(root, create=not check)
    tree = Tree(root, root_fd)
    try:
        if check:
            return _write_locked(tree, files, owned, manifest, check, prune)
        assert root_fd is not None
        with locked(root_fd, root):
            try:
                return _write_locked(tree, files, owned, manifest, check, prune)
            except BaseException:
                if not tree.committing:
                    remove_created(created)  # nothing was written: leave no empty output folder behind
                raise
    finally:
        tree.close()


def _write_locked(tree: Tree, files: dict[str, str], owned: Ownership, manifest: ManifestUpdate | None,
                  check: bool, prune: bool) -> WriteResult:
    root = tree.root
    if not check and tree.fds[""] is not None:
        remove_stale_staging(tree.fds[""])
    files = dict(files)
    orphans: list[str] = []
    warnings: list[Problem] = []
    if manifest is not None:
        envs = manifest.envs
        old = read_manifest_at(tree.fds[""], root).get("environments", {})
        entries: dict[str, dict[str, str]] = {}
        rendered_sources = {}
        digests = env_digests((env.name for env in envs), files)
        for env in envs:
            src = source_rel(root, env.source)
            entries[env.name] = {"source": src, "sha256": digests[env.name]}
            rendered_sources[src] = env.name
        for name, entry in sorted(old.items()):
            if name in entries:
                continue
            src = entry["source"]
            gone = not source_exists(root, src)
            renamed = rendered_sources.get(src) not in (None, name)
            if not (gone or renamed):
                entries[name] = dict(entry)  # not rendered this time: left exactly as it is
                continue
            orphans.append(name)
            why = f"its environment file {src} is gone" if gone else f"{src} now renders the environment {rendered_sources[src]!r}"
            if prune:
                continue
            entries[name] = dict(entry)
            warnings.append(Problem(
                str(root / name), 0, 0, "",
                f"{why}, but its Terraform state may still hold live AWS resources, so towergen keeps this "
                f"folder: destroy them first (towergen destroy {root / name} --target aws, or terraform "
                "destroy in that folder), then render with --prune to remove its files",
            ))
        files[MANIFEST] = manifest_text(manifest.version, entries)
    plan = _plan(tree, files, owned, orphans if prune else ())
    result = WriteResult(plan.changes, orphans, warnings)
    if check or not (plan.data or plan.deletes):
        return result
    staging = Staging(tree)
    try:
        for rel, data in sorted(plan.data.items()):
            folder, _, name = rel.rpartition("/")
            staging.write(folder, name, data, tree.display(rel))
        try:
            tree.committing = True
            _commit(tree, staging, plan, MANIFEST if manifest is not None else None)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted while moving files into {root}: {PART_OLD_PART_NEW}") from None
    finally:
        staging.remove()
    return result
