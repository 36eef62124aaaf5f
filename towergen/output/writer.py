"""Writing the output tree: safely, completely or not at all, and never through a symbolic link.

The order of a write (``write_output``):

1. open the output folder (created if missing) without following a link, and take an advisory
   lock on it (``flock`` on the folder itself, so no lock file is left in a committed tree): a
   second render into the same folder waits for the first;
2. remove the staging folders earlier renders left behind when they were killed (only folders
   whose name or marker says they are towergen's and whose owner is gone);
3. plan: read the manifest (bounded, see ``manifest.py``), open every target folder (refusing
   links and files where a folder belongs), stat every target file (refusing links, folders and
   special files), and refuse a file in the way that towergen cannot prove it wrote
   (``ownership.py``): nothing of a user's is ever overwritten or deleted;
4. stage: write every new or changed file, and create every missing folder, inside a staging
   folder ``.towergen-staging-*`` in the output folder. An OS error here (a full disk, no
   inodes, a read-only folder) leaves the tree exactly as it was;
5. commit: write a manifest that records both the old and the new content of every file about
   to change, then move each missing folder into place whole, each other file with ``rename``
   (atomic per file), delete what towergen no longer writes, and write the final manifest. A
   render killed at any point leaves only files the manifest on disk proves towergen's, so the
   next render finishes the job.

Every step works relative to folder handles opened with ``O_NOFOLLOW``: a link swapped in
while a render runs is never followed. Every OS error becomes an ``OutputError`` naming the
path and the reason. An error or an interrupt during step 5 (a few renames) says that the tree
is part old, part new, and to render again; one after it, that every file is in place. Before
step 5 an interrupt, whatever the statement it lands on, leaves nothing behind: the staging
folder and the folders the write created are registered before they are made, and removed.
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
from .manifest import (
    MANIFEST,
    EnvEntry,
    Manifest,
    env_digests,
    manifest_text,
    read_manifest_at,
    sha256,
    source_exists,
    source_rel,
)
from .ownership import Ownership, legacy_names, proven
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
    kept: list[str]  # files towergen no longer writes but cannot prove its own: left in place


def _file_state(tree: Tree, rel: str) -> tuple[str, os.stat_result | None]:
    folder, _, name = rel.rpartition("/")
    fd = tree.folder(folder)
    if fd is None:
        return "missing", None
    try:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return "missing", None
    except OSError as exc:
        raise OutputError(f"cannot read {tree.display(rel)}: {reason(exc)}; nothing was written") from None
    if stat.S_ISREG(st.st_mode):
        return "file", st
    shown = tree.display(rel)
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


def _read(tree: Tree, rel: str, limit: int) -> bytes | None:
    """The bytes of a regular file of the tree, at most ``limit`` + 1 (None: it is not there)."""
    if _file_state(tree, rel)[1] is None:
        return None
    folder, _, name = rel.rpartition("/")
    with os_errors("read", tree.display(rel), "nothing was written"):
        try:
            fd = os.open(name, FILE_READ, dir_fd=tree.folder(folder))
        except FileNotFoundError:
            return None
        with open(fd, "rb") as fh:
            return fh.read(limit + 1)


# A file towergen writes is small (user-data, the largest, is tens of kB): a larger file in its
# way is not towergen's, and is not read whole to find out.
OWN_FILE_LIMIT = 4 << 20


def _refused(tree: Tree, rels: list[str]) -> OutputError:
    one = len(rels) == 1
    shown = ", ".join(str(tree.display(rel)) for rel in rels[:5]) + (f" and {len(rels) - 5} more" if len(rels) > 5 else "")
    return OutputError(
        f"refusing to overwrite {shown}: towergen did not write {'it' if one else 'them'} (not recorded in "
        f"{MANIFEST} with this content, and no towergen header as the first line); nothing was written: move "
        f"{'it' if one else 'them'} away (a file of your own beside towergen's, such as override.tf, is fine), "
        "and render again"
    )


def _existing(tree: Tree, folder: str) -> set[str]:
    """The regular files of ``folder`` (none when it does not exist)."""
    fd = tree.folder(folder)
    if fd is None:
        return set()
    with os_errors("list", tree.display(folder), "nothing was written"):
        return {f"{folder}/{e.name}" for e in os.scandir(fd) if e.is_file(follow_symlinks=False)}


def _plan(tree: Tree, files: dict[str, str], owned: Ownership, old: Manifest | None, pruned: Iterable[str]) -> _Plan:
    changes: list[Change] = []
    data: dict[str, bytes] = {}
    refused: list[str] = []
    module_files = [rel for rel in files if rel.startswith("modules/")]

    def ours(rel: str, content: bytes) -> bool:
        return len(content) <= OWN_FILE_LIMIT and proven(rel, content, old, legacy_names(rel, module_files))

    for rel, text in sorted(files.items()):
        parts(rel)
        encoded = text.encode("utf-8")
        current = _read(tree, rel, max(len(encoded), OWN_FILE_LIMIT))
        if current is None:
            changes.append(Change("create", rel))
            data[rel] = encoded
        elif current == encoded:
            changes.append(Change("identical", rel))
        elif rel == MANIFEST or ours(rel, current):
            changes.append(Change("overwrite", rel))
            data[rel] = encoded
        else:
            refused.append(rel)
    if refused:
        raise _refused(tree, refused)
    # Files towergen wrote before and does not write now, in its own folders: those the
    # manifest records (in a tree of towergen 0.1.0: those with its names). Each is deleted
    # only when it is provably towergen's, and left in place (with a warning) when not.
    pruned = sorted(pruned)
    folders = {f"modules/{m}" for m in owned.modules} | set(owned.env_names) | set(pruned)
    candidates: set[str] = set()
    if old is not None and old.files is not None:
        candidates = {rel for rel in old.files if rel.rpartition("/")[0] in folders}
    elif old is not None:
        for folder in folders:
            names = legacy_names(f"{folder}/-", module_files)
            candidates |= {rel for rel in _existing(tree, folder) if rel.rpartition("/")[2] in names}
    deletes: list[str] = []
    kept: list[str] = []
    for rel in sorted(candidates - files.keys()):
        current = _read(tree, rel, OWN_FILE_LIMIT)
        if current is None:
            continue
        (deletes if ours(rel, current) else kept).append(rel)
    changes.extend(Change("delete", rel) for rel in deletes)
    return _Plan(changes, data, deletes, pruned, kept)


def _top_missing(tree: Tree, folder: str) -> str | None:
    """The highest folder on the way to ``folder`` that does not exist yet (None: all exist)."""
    parts = folder.split("/") if folder else []
    for i in range(1, len(parts) + 1):
        rel = "/".join(parts[:i])
        if tree.folder(rel) is None:
            return rel
    return None


TRANSITION = "towergen-manifest.next.json"  # staged only: the manifest of a commit under way


def _commit(tree: Tree, staging: Staging, plan: _Plan, manifest: bool) -> None:
    root_fd = tree.fds[""]
    if manifest:
        # first the manifest that knows the old and the new content of every changing file
        with os_errors("move into place", tree.display(MANIFEST), PART_OLD_PART_NEW):
            os.replace(TRANSITION, MANIFEST, src_dir_fd=staging.folder(""), dst_dir_fd=root_fd)
    moved_folders: set[str] = set()
    for rel in sorted(plan.data):
        folder, _, name = rel.rpartition("/")
        if rel == MANIFEST:
            continue
        folder_parts = folder.split("/") if folder else []
        if any("/".join(folder_parts[:i]) in moved_folders for i in range(1, len(folder_parts) + 1)):
            continue  # its folder was moved into place whole
        top = _top_missing(tree, folder)
        if top is not None:
            if top not in moved_folders:
                parent, _, base = top.rpartition("/")
                _move_folder(tree, staging, top, parent, base)
                moved_folders.add(top)
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
            os.rmdir(name, dir_fd=root_fd)
        except OSError:
            pass  # it still holds files that are not towergen's (state, .terraform): left alone
    if MANIFEST in plan.data:
        with os_errors("move into place", tree.display(MANIFEST), PART_OLD_PART_NEW):
            os.replace(MANIFEST, MANIFEST, src_dir_fd=staging.folder(""), dst_dir_fd=root_fd)


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
                 manifest: ManifestUpdate | None = None, check: bool = False, prune: bool = False,
                 force: bool = False) -> WriteResult:
    """Write ``files`` (paths relative to the output folder) and delete the files towergen wrote
    before and no longer writes (``ownership.py``). With ``manifest`` the manifest is kept too:
    each environment rendered is recorded with its file, and every file with its sha256; one
    recorded before whose file is gone is an orphan, kept (and warned about) unless ``prune``
    (which refuses a folder whose state may hold resources, unless ``force``). With ``check``
    nothing is written: the result says what a render would do."""
    root = output_path(out_dir)
    created: list[Path] = []
    tree = Tree(root, None)
    # Everything from the first mkdir on is undone if the write stops before committing, whatever
    # the instant: a Ctrl-C lands between any two statements (issue 18: an output folder, or a
    # staging folder in it, was left behind after "nothing was written").
    try:
        tree.adopt_root(open_root(root, create=not check, created=created))
        if check:
            result = _write_locked(tree, files, owned, manifest, check, prune, force)
        else:
            root_fd = tree.fds[""]
            assert root_fd is not None
            with locked(root_fd, root):
                try:
                    result = _write_locked(tree, files, owned, manifest, check, prune, force)
                except BaseException:
                    if not tree.committing:
                        _abort(tree, created)  # under the lock: no other render is writing here
                    raise
        tree.close()
        return result  # nothing after this line: an interrupt during a finally clause would escape the handlers
    except KeyboardInterrupt:
        _abort(tree, [] if tree.committing else created)  # nothing was written: leave no empty output folder behind
        tree.close()
        if tree.committed:
            raise Interrupted(f"interrupted as the render ended: every file is in place in {root}") from None
        if tree.committing:
            raise Interrupted(f"interrupted while moving files into {root}: {PART_OLD_PART_NEW}") from None
        raise
    except BaseException:
        _abort(tree, [] if tree.committing else created)
        tree.close()
        raise


def _abort(tree: Tree, created: list[Path]) -> None:
    """Undo what a write that stopped made: its staging folder, then the folders it created (only
    when nothing was committed; each only if empty). Each step is dropped once done, so that a
    second call (after the lock is released) does only what the first could not finish."""
    while tree.on_abort:
        tree.on_abort[-1]()
        tree.on_abort.pop()
    remove_created(created)


def _orphans(tree: Tree, update: ManifestUpdate, files: dict[str, str], old: Manifest | None, prune: bool,
             force: bool) -> tuple[dict[str, EnvEntry], list[str], list[Problem]]:
    """The manifest's environments after this render, the orphans (recorded, their file gone or
    now rendering another environment), and the warnings about them."""
    root = tree.root
    entries: dict[str, EnvEntry] = {}
    rendered_sources: dict[str, str] = {}
    digests = env_digests((env.name for env in update.envs), files)
    for env in update.envs:
        src = source_rel(root, env.source)
        entries[env.name] = EnvEntry(src, digests[env.name])
        rendered_sources[src] = env.name
    orphans: list[str] = []
    warnings: list[Problem] = []
    for name, entry in sorted((old.environments if old else {}).items()):
        if name in entries:
            continue
        gone = not source_exists(root, entry.source)
        renamed = rendered_sources.get(entry.source) not in (None, name)
        if not (gone or renamed):
            entries[name] = entry  # not rendered this time: left exactly as it is
            continue
        orphans.append(name)
        why = (f"its environment file {entry.source} is gone" if gone
               else f"{entry.source} now renders the environment {rendered_sources[entry.source]!r}")
        if prune:
            live = None if force else live_state(tree, name)
            if live:
                raise OutputError(
                    f"refusing to prune {tree.display(name)}: {why}, but {live}; nothing was written: destroy its "
                    f"resources first (towergen destroy {tree.display(name)} --target aws), or pass --force to "
                    "remove towergen's files anyway (its state and .terraform/ stay)"
                )
            continue
        entries[name] = entry
        warnings.append(Problem(
            str(tree.display(name)), 0, 0, "",
            f"{why}, but its Terraform state may still hold live AWS resources, so towergen keeps this "
            f"folder: destroy them first (towergen destroy {tree.display(name)} --target aws, or terraform "
            "destroy in that folder), then render with --prune to remove its files",
        ))
    return entries, orphans, warnings


def live_state(tree: Tree, name: str) -> str | None:
    """Why the Terraform state of environment folder ``name`` may hold live resources (None: it
    holds none that towergen can see): a local state with resources, or a remote backend."""
    from ..renderer.files import BACKEND_FILE

    state = _read(tree, f"{name}/terraform.tfstate", OWN_FILE_LIMIT * 16)
    if state is not None:
        import json

        try:
            resources = json.loads(state).get("resources") or []
        except (ValueError, AttributeError):
            return "its terraform.tfstate cannot be read as Terraform state"
        live = [r for r in resources if isinstance(r, dict) and r.get("mode") == "managed" and r.get("instances")]
        if live:
            return f"its terraform.tfstate holds {len(live)} resource{'s' if len(live) != 1 else ''}"
    if _file_state(tree, f"{name}/{BACKEND_FILE}")[1] is not None:
        return f"it has a {BACKEND_FILE}: its state is remote and may hold resources"
    backend = _read(tree, f"{name}/.terraform/terraform.tfstate", OWN_FILE_LIMIT)
    if backend is not None and b'"backend"' in backend:
        return "terraform init configured a remote backend in it (.terraform/terraform.tfstate)"
    return None


def _write_locked(tree: Tree, files: dict[str, str], owned: Ownership, update: ManifestUpdate | None,
                  check: bool, prune: bool, force: bool) -> WriteResult:
    root = tree.root
    if not check and tree.fds[""] is not None:
        remove_stale_staging(tree.fds[""])
    files = dict(files)
    orphans: list[str] = []
    warnings: list[Problem] = []
    old = read_manifest_at(tree.fds[""], root) if update is not None else None
    transition: str | None = None
    if update is not None:
        entries, orphans, warnings = _orphans(tree, update, files, old, prune, force)
        recorded: dict[str, tuple[str, ...]] = {rel: (sha256(text.encode("utf-8")),) for rel, text in files.items()}
        rendered = {env.name for env in update.envs}
        kept_envs = {name for name in entries if name not in rendered}
        for rel, digests in ((old.files or {}).items() if old else ()):
            if rel.partition("/")[0] in kept_envs and rel not in recorded:
                recorded[rel] = digests  # an environment not rendered this time keeps its record
        files[MANIFEST] = manifest_text(Manifest(version=update.version, environments=entries, files=recorded))
        both = dict(recorded)
        for rel, digests in ((old.files or {}).items() if old else ()):
            both[rel] = tuple(dict.fromkeys((*digests, *both.get(rel, ()))))
        transition = manifest_text(Manifest(version=update.version, environments=entries, files=both))
    plan = _plan(tree, files, owned, old, orphans if prune else ())
    for rel in plan.kept:
        warnings.append(Problem(str(tree.display(rel)), 0, 0, "", "left in place: towergen no longer writes it, "
                                "but it was changed since towergen wrote it (delete it yourself if it is not needed)"))
    result = WriteResult(plan.changes, orphans, warnings)
    if check or not (plan.data or plan.deletes):
        return result
    staging = Staging(tree)
    try:
        for rel, data in sorted(plan.data.items()):
            folder, _, name = rel.rpartition("/")
            staging.write(folder, name, data, tree.display(rel))
        if transition is not None:
            staging.write("", TRANSITION, transition.encode("utf-8"), staging.shown / TRANSITION)
        tree.committing = True
        try:
            _commit(tree, staging, plan, transition is not None)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted while moving files into {root}: {PART_OLD_PART_NEW}") from None
        tree.committed = True
    finally:
        staging.remove()
    return result
