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
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import Interrupted, OutputError, Problem, TowergenError
from .model import NAME_RE

MANIFEST = "towergen-manifest.json"
MANIFEST_FORMAT = 1
STAGING_PREFIX = ".towergen-staging-"
STAGING_MARKER = ".towergen-staging"
# A staging folder whose owner cannot be checked (another host) counts as stale after this long.
STALE_AFTER_S = 3600
LOCK_TIMEOUT_S = 60.0

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_FILE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


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


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


@contextmanager
def _os_errors(what: str, path: Path | str, after: str = "nothing in the output folder was changed") -> Iterator[None]:
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot {what} {path}: {_reason(exc)}; {after}") from None


def _parts(rel: str) -> tuple[str, ...]:
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise OutputError(f"refusing to write {rel!r}: not a plain path inside the output folder")
    return parts


# --- the output folder and its handles -----------------------------------------------------------


def output_path(out_dir: str | os.PathLike[str]) -> Path:
    """The output folder as given; an empty string is refused, never the current folder."""
    text = os.fspath(out_dir)
    if not str(text).strip():
        raise OutputError("expected an output folder, found an empty string")
    return Path(text)


class _Tree:
    """Handles of the folders of one output tree, opened once without following links."""

    def __init__(self, root: Path, root_fd: int | None):
        self.root = root
        self.fds: dict[str, int | None] = {"": root_fd}  # folder (relative, "" the root) -> fd or None if missing
        self.committing = False  # files are being moved into place: an error leaves it part old, part new
        # Names towergen owns only when the file starts with ``mark`` (a backend.tf of the user's
        # is never replaced or deleted; towergen's own is).
        self.marked: frozenset[str] = frozenset()
        self.mark = b""
        self._opened: list[int] = [root_fd] if root_fd is not None else []

    def close(self) -> None:
        for fd in self._opened:
            try:
                os.close(fd)
            except OSError:
                pass
        self._opened.clear()

    def display(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    def folder(self, rel: str) -> int | None:
        """The handle of folder ``rel``, or None when it (or a parent) does not exist."""
        if rel in self.fds:
            return self.fds[rel]
        parent_rel, _, name = rel.rpartition("/")
        parent = self.folder(parent_rel)
        fd = None if parent is None else _open_folder(parent, name, self.display(rel))
        if fd is not None:
            self._opened.append(fd)
        self.fds[rel] = fd
        return fd


def _open_folder(parent_fd: int, name: str, shown: Path) -> int | None:
    """Open folder ``name`` in ``parent_fd``: its handle, None when missing, or a clear refusal."""
    try:
        return os.open(name, _DIR, dir_fd=parent_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        try:
            st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except OSError:
            st = None
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise OutputError(f"refusing to write through the symbolic link {shown}") from None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise OutputError(f"refusing to write into {shown}: it is a file, expected a folder") from None
        raise OutputError(f"cannot open the folder {shown}: {_reason(exc)}; nothing in the output folder was changed") from None


def _open_root(root: Path, *, create: bool) -> tuple[int | None, list[Path]]:
    """Open the output folder itself (its own name must not be a link; its parents may be).
    Returns its handle (None when missing and not ``create``) and the folders created."""
    created: list[Path] = []
    if root.is_symlink():
        raise OutputError(f"refusing to write into {root}: it is a symbolic link")
    if root.exists() and not root.is_dir():
        raise OutputError(f"refusing to write into {root}: it is not a folder")
    if not root.exists():
        if not create:
            return None, created
        missing = [p for p in (root, *root.parents) if not p.exists()]
        for path in reversed(missing):
            with _os_errors("create the folder", path, "nothing was written"):
                try:
                    os.mkdir(path)
                except FileExistsError:
                    continue
            created.append(path)
    with _os_errors("open the folder", root):
        try:
            return os.open(root, _DIR), created
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise OutputError(f"refusing to write into {root}: it is not a folder (or a symbolic link)") from None
            raise


def _remove_created(created: list[Path]) -> None:
    for path in reversed(created):
        try:
            os.rmdir(path)
        except OSError:
            break


@contextmanager
def _locked(fd: int, root: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """An exclusive advisory lock on the output folder (its own handle): renders into one folder
    run one after the other. Where the file system has no locks, go on without one."""
    deadline = time.monotonic() + timeout
    locked = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise OutputError(
                    f"another towergen render has been writing into {root} for over {timeout:.0f} s; "
                    "nothing was written: wait for it, or stop it, and render again"
                ) from None
            time.sleep(0.02)
        except OSError:
            break  # no locking on this file system (some network file systems)
    try:
        yield
    finally:
        if locked:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            except OSError:
                pass


# --- stale staging folders -----------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def _is_stale(root_fd: int, name: str) -> bool:
    """A staging folder of towergen's own (it holds the marker) whose owner is gone."""
    try:
        fd = os.open(name, _DIR, dir_fd=root_fd)
    except OSError:
        return False
    try:
        mfd = os.open(STAGING_MARKER, _FILE_READ, dir_fd=fd)
        with open(mfd, "rb") as fh:
            marker = json.loads(fh.read(4096))
        pid, host, started = int(marker["pid"]), str(marker["host"]), float(marker["started"])
    except (OSError, ValueError, KeyError, TypeError):
        return False  # not ours: a user's folder that happens to have the prefix
    finally:
        os.close(fd)
    if time.time() - started > STALE_AFTER_S:
        return True
    return host == socket.gethostname() and not _pid_alive(pid)


# towergen 0.1.0 before the marker staged in tempfile.mkdtemp(prefix=".towergen-"): files named 0, 1, ...
_OLD_STAGING = re.compile(r"\.towergen-[a-z0-9_]{8}")


def _is_old_stale(root_fd: int, name: str) -> bool:
    """A staging folder of towergen before the marker: its name, only files named by numbers,
    and nothing changed in it for an hour."""
    try:
        fd = os.open(name, _DIR, dir_fd=root_fd)
    except OSError:
        return False
    try:
        if time.time() - os.fstat(fd).st_mtime < STALE_AFTER_S:
            return False
        return all(e.name.isdigit() and e.is_file(follow_symlinks=False) for e in os.scandir(fd))
    except OSError:
        return False
    finally:
        os.close(fd)


def remove_stale_staging(root_fd: int) -> list[str]:
    """Remove staging folders left by renders that were killed; return their names."""
    removed = []
    for entry in os.scandir(root_fd):
        if not entry.is_dir(follow_symlinks=False):
            continue
        if (entry.name.startswith(STAGING_PREFIX) and _is_stale(root_fd, entry.name)) or \
                (_OLD_STAGING.fullmatch(entry.name) and _is_old_stale(root_fd, entry.name)):
            try:
                shutil.rmtree(entry.name, dir_fd=root_fd)
                removed.append(entry.name)
            except OSError:
                pass
    return removed


# --- the manifest --------------------------------------------------------------------------------


_MODULE_CALL = re.compile(r'source\s*=\s*"\.\./modules/([A-Za-z0-9_-]+)"')


def env_digests(names: Iterable[str], files: dict[str, str]) -> dict[str, str]:
    """For each environment, the sha256 of its generated files and of the module files (``.tf``)
    it calls: what Terraform would apply for it. Each file is hashed as its path, its length in
    bytes and its bytes; a module as the sha256 of its files, hashed so once."""
    by_folder: dict[str, list[str]] = {}
    for rel in sorted(files):
        by_folder.setdefault(rel.rpartition("/")[0], []).append(rel)

    def update(h, rel: str) -> None:
        data = files[rel].encode("utf-8")
        h.update(f"{rel}\n{len(data)}\n".encode())
        h.update(data)

    module_digests: dict[str, bytes] = {}

    def module_digest(module: str) -> bytes:
        if module not in module_digests:
            h = hashlib.sha256()
            for rel in by_folder.get(f"modules/{module}", []):
                if rel.endswith(".tf"):
                    update(h, rel)
            module_digests[module] = h.digest()
        return module_digests[module]

    digests = {}
    for name in sorted(set(names)):
        h = hashlib.sha256()
        own = by_folder.get(name, [])
        used = sorted({m for rel in own if rel.endswith(".tf") for m in _MODULE_CALL.findall(files[rel])})
        for rel in own:
            update(h, rel)
        for module in used:
            h.update(f"modules/{module}\n".encode() + module_digest(module))
        digests[name] = h.hexdigest()
    return digests


def read_manifest_at(root_fd: int | None, root: Path) -> dict:
    """The manifest of the tree (empty when there is none)."""
    if root_fd is None:
        return {}
    try:
        fd = os.open(MANIFEST, _FILE_READ, dir_fd=root_fd)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise OutputError(f"cannot read {root / MANIFEST}: {_reason(exc)}; nothing was written") from None
    with open(fd, "rb") as fh:
        data = fh.read()
    return parse_manifest(data, root / MANIFEST)


def parse_manifest(data: bytes, shown: Path | str) -> dict:
    try:
        manifest = json.loads(data)
        envs = manifest["environments"]
        if not isinstance(envs, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("source"), str) and isinstance(v.get("sha256"), str) for v in envs.values()
        ):
            raise ValueError("environments: expected {name: {source, sha256}}")
        for name in envs:  # names become folder names: nothing else may come from a manifest
            if not re.fullmatch(NAME_RE, name) or name == "modules":
                raise ValueError(f"environments: {name!r} is not an environment name")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise OutputError(
            f"{shown}: expected towergen's manifest (JSON with environments), found something else ({exc}); "
            "nothing was written: restore it from version control or delete it"
        ) from None
    return manifest


def manifest_text(version: str, envs: dict[str, dict[str, str]]) -> str:
    doc = {
        "about": "Written by towergen render: the environments of this folder. Do not edit.",
        "format": MANIFEST_FORMAT,
        "towergen": version,
        "environments": {name: {"source": envs[name]["source"], "sha256": envs[name]["sha256"]} for name in sorted(envs)},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _source_rel(root: Path, source: Path) -> str:
    return PurePosixPath(Path(os.path.relpath(os.path.abspath(source), os.path.abspath(root)))).as_posix()


def recorded_source(root: Path, name: str) -> Path | None:
    """The environment file the manifest of ``root`` records for ``name``, if it still exists."""
    try:
        entry = parse_manifest((Path(root) / MANIFEST).read_bytes(), Path(root) / MANIFEST)["environments"].get(name)
    except (OSError, TowergenError):
        return None
    if not entry or not _source_exists(root, entry["source"]):
        return None
    return Path(os.path.normpath(os.path.join(os.path.abspath(root), entry["source"])))


def _source_exists(root: Path, rel: str) -> bool:
    return os.path.isfile(os.path.join(os.path.abspath(root), rel))


# --- planning ------------------------------------------------------------------------------------


@dataclass
class _Plan:
    changes: list[Change]
    data: dict[str, bytes]  # what to write, by path
    deletes: list[str]
    prune_folders: list[str]


def _file_state(tree: _Tree, rel: str) -> tuple[str, os.stat_result | None]:
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
        raise OutputError(f"cannot read {shown}: {_reason(exc)}; nothing was written") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"refusing to write through the symbolic link {shown}")
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"refusing to replace the folder {shown} with a file")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"refusing to replace {shown}: it is not a regular file")
    return "file", st


def _read_start(tree: _Tree, rel: str, size: int) -> bytes | None:
    """The first ``size`` bytes of a file of the tree (None: it was deleted meanwhile)."""
    folder, _, name = rel.rpartition("/")
    with _os_errors("read", tree.display(rel), "nothing was written"):
        try:
            fd = os.open(name, _FILE_READ, dir_fd=tree.folder(folder))
        except FileNotFoundError:
            return None
        with open(fd, "rb") as fh:
            return fh.read(size)


def _same_content(tree: _Tree, rel: str, st: os.stat_result, data: bytes) -> bool | None:
    """Whether the file holds exactly ``data`` (None: it was deleted meanwhile)."""
    if st.st_size != len(data):
        return False
    found = _read_start(tree, rel, len(data) + 1)
    return None if found is None else found == data


def _starts_with_mark(tree: _Tree, rel: str) -> bool:
    return _read_start(tree, rel, len(tree.mark)) == tree.mark


def _marked_in(tree: _Tree, folder: str) -> set[str]:
    """The files of ``folder`` with a marked name that towergen wrote (they start with its mark)."""
    if not tree.marked:
        return set()
    return {rel for rel in _generated_in(tree, folder, tree.marked) if _starts_with_mark(tree, rel)}


def _generated_in(tree: _Tree, folder: str, names: Iterable[str] | None) -> set[str]:
    """The regular files of ``folder`` with one of ``names`` (any name when None)."""
    fd = tree.folder(folder)
    if fd is None:
        return set()
    allowed = None if names is None else set(names)
    found = set()
    with _os_errors("list", tree.display(folder), "nothing was written"):
        for entry in os.scandir(fd):
            if (allowed is None or entry.name in allowed) and entry.is_file(follow_symlinks=False):
                found.add(f"{folder}/{entry.name}")
    return found


def _plan(tree: _Tree, files: dict[str, str], owned: dict[str, Iterable[str] | None], pruned: Iterable[str],
          env_files: Iterable[str]) -> _Plan:
    changes: list[Change] = []
    data: dict[str, bytes] = {}
    for rel, text in sorted(files.items()):
        _parts(rel)
        encoded = text.encode("utf-8")
        state, st = _file_state(tree, rel)
        if state != "missing" and rel.rpartition("/")[2] in tree.marked and not _starts_with_mark(tree, rel):
            raise OutputError(
                f"refusing to overwrite {tree.display(rel)}: it is not towergen's (it does not start with "
                f"{tree.mark.decode()!r}); move it away, or remove the environment file's backend section"
            )
        same = None if state == "missing" else _same_content(tree, rel, st, encoded)
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
    for folder, names in owned.items():
        stale |= _generated_in(tree, folder, names)
        if names is not None:
            stale |= _marked_in(tree, folder)
    pruned = sorted(pruned)
    for name in pruned:
        stale |= _generated_in(tree, name, env_files) | _marked_in(tree, name)
    deletes = sorted(stale - files.keys())
    changes.extend(Change("delete", rel) for rel in deletes)
    return _Plan(changes, data, deletes, pruned)


# --- staging and committing ----------------------------------------------------------------------


class _Staging:
    def __init__(self, tree: _Tree):
        self.tree = tree
        self.name = f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.shown = tree.root / self.name
        self.fds: dict[str, int] = {}
        root_fd = tree.fds[""]
        with _os_errors("create the staging folder", self.shown):
            os.mkdir(self.name, 0o700, dir_fd=root_fd)
        self.fds[""] = os.open(self.name, _DIR, dir_fd=root_fd)
        marker = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "by": "towergen render"}
        try:
            self.write("", STAGING_MARKER, json.dumps(marker).encode(), self.shown / STAGING_MARKER)
        except BaseException:
            self.remove()
            raise

    def folder(self, rel: str) -> int:
        if rel not in self.fds:
            parent_rel, _, name = rel.rpartition("/")
            parent = self.folder(parent_rel)
            with _os_errors("create the folder", self.shown / rel):
                os.mkdir(name, dir_fd=parent)
            self.fds[rel] = os.open(name, _DIR, dir_fd=parent)
        return self.fds[rel]

    def write(self, folder: str, name: str, data: bytes, shown: Path) -> None:
        fd = self.folder(folder)
        with _os_errors("write", shown):
            out = os.open(name, _FILE_NEW, 0o666, dir_fd=fd)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(out, view):]
            finally:
                os.close(out)

    def remove(self) -> None:
        for fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()
        try:
            shutil.rmtree(self.name, dir_fd=self.tree.fds[""])
        except OSError:
            pass


def _top_missing(tree: _Tree, folder: str) -> str | None:
    """The highest folder on the way to ``folder`` that does not exist yet (None: all exist)."""
    parts = folder.split("/") if folder else []
    for i in range(1, len(parts) + 1):
        rel = "/".join(parts[:i])
        if tree.folder(rel) is None:
            return rel
    return None


def _commit(tree: _Tree, staging: _Staging, plan: _Plan, last: str | None) -> None:
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
        with _os_errors("move into place", tree.display(rel), PART_OLD_PART_NEW):
            os.replace(name, name, src_dir_fd=staging.folder(folder), dst_dir_fd=tree.folder(folder))
    for rel in plan.deletes:
        folder, _, name = rel.rpartition("/")
        with _os_errors("delete", tree.display(rel), PART_OLD_PART_NEW):
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
        with _os_errors("move into place", tree.display(rel), PART_OLD_PART_NEW):
            os.replace(name, name, src_dir_fd=staging.folder(folder), dst_dir_fd=tree.folder(folder))


PART_OLD_PART_NEW = "the output folder is now part old, part new: render again"


def _move_folder(tree: _Tree, staging: _Staging, rel: str, parent: str, base: str) -> None:
    """Move a whole staged folder into place; when one appeared meanwhile, merge file by file."""
    dst = tree.folder(parent)
    src = staging.folder(parent)
    with _os_errors("move into place", tree.display(rel), PART_OLD_PART_NEW):
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
            with _os_errors("move into place", tree.display(child), PART_OLD_PART_NEW):
                os.replace(entry.name, entry.name, src_dir_fd=staging.folder(rel), dst_dir_fd=tree.folder(rel))


# --- the entry point -----------------------------------------------------------------------------


def write_output(
    out_dir: str | os.PathLike[str],
    files: dict[str, str],
    owned: dict[str, Iterable[str] | None],
    *,
    envs: list[EnvSource] | None = None,
    env_files: Iterable[str] = (),
    version: str = "",
    check: bool = False,
    prune: bool = False,
    marked: Iterable[str] = (),
    mark: bytes = b"",
) -> WriteResult:
    """Write ``files`` (paths relative to the output folder) and delete the files towergen wrote
    before and no longer writes: in each folder of ``owned``, the regular files with one of its
    names (any name when None). With ``envs`` the manifest is kept too (see ``MANIFEST``): each
    environment rendered is recorded with its file; one recorded before whose file is gone is an
    orphan, kept (and warned about) unless ``prune``. With ``check`` nothing is written: the
    result says what a render would do. A file named in ``marked`` is towergen's only when it
    starts with ``mark``: another is never overwritten (an error) nor deleted."""
    root = output_path(out_dir)
    root_fd, created = _open_root(root, create=not check)
    tree = _Tree(root, root_fd)
    tree.marked, tree.mark = frozenset(marked), mark
    try:
        if check:
            return _write_locked(tree, files, owned, envs, env_files, version, check, prune)
        with _locked(root_fd, root):
            try:
                return _write_locked(tree, files, owned, envs, env_files, version, check, prune)
            except BaseException:
                if not tree.committing:
                    _remove_created(created)  # nothing was written: leave no empty output folder behind
                raise
    finally:
        tree.close()


def _write_locked(tree: _Tree, files: dict[str, str], owned: dict[str, Iterable[str] | None],
                  envs: list[EnvSource] | None, env_files: Iterable[str], version: str,
                  check: bool, prune: bool) -> WriteResult:
    root = tree.root
    if not check and tree.fds[""] is not None:
        remove_stale_staging(tree.fds[""])
    files = dict(files)
    env_files = tuple(env_files)
    orphans: list[str] = []
    warnings: list[Problem] = []
    if envs is not None:
        old = read_manifest_at(tree.fds[""], root).get("environments", {})
        entries: dict[str, dict[str, str]] = {}
        rendered_sources = {}
        digests = env_digests((env.name for env in envs), files)
        for env in envs:
            src = _source_rel(root, env.source)
            entries[env.name] = {"source": src, "sha256": digests[env.name]}
            rendered_sources[src] = env.name
        for name, entry in sorted(old.items()):
            if name in entries:
                continue
            src = entry["source"]
            gone = not _source_exists(root, src)
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
        files[MANIFEST] = manifest_text(version, entries)
    plan = _plan(tree, files, owned, orphans if prune else (), env_files)
    result = WriteResult(plan.changes, orphans, warnings)
    if check or not (plan.data or plan.deletes):
        return result
    staging = _Staging(tree)
    try:
        for rel, data in sorted(plan.data.items()):
            folder, _, name = rel.rpartition("/")
            staging.write(folder, name, data, tree.display(rel))
        try:
            tree.committing = True
            _commit(tree, staging, plan, MANIFEST if envs is not None else None)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted while moving files into {root}: {PART_OLD_PART_NEW}") from None
    finally:
        staging.remove()
    return result
