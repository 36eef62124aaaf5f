"""The output folder and its sub-folders as handles opened without following links, the lock
that makes renders into one folder take turns, and OS errors turned into clean messages."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputError

LOCK_TIMEOUT_S = 60.0

DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
FILE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
PART_OLD_PART_NEW = "the output folder is now part old, part new: render again"


def reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


@contextmanager
def os_errors(what: str, path: Path | str, after: str = "nothing in the output folder was changed") -> Iterator[None]:
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot {what} {path}: {reason(exc)}; {after}") from None


def parts(rel: str) -> tuple[str, ...]:
    """The names of ``rel``, a plain relative path ("a/b", never "", "/a", "a//b", "./a", "../a", "a\\b")."""
    names = tuple(rel.split("/"))
    if any(p in ("", ".", "..") or "\\" in p for p in names):
        raise OutputError(f"refusing to write {rel!r}: not a plain path inside the output folder")
    return names


# --- the output folder and its handles -----------------------------------------------------------


def output_path(out_dir: str | os.PathLike[str]) -> Path:
    """The output folder as given; an empty string is refused, never the current folder."""
    text = os.fspath(out_dir)
    if not str(text).strip():
        raise OutputError("expected an output folder, found an empty string")
    return Path(text)


class Tree:
    """Handles of the folders of one output tree, opened once without following links."""

    def __init__(self, root: Path, root_fd: int | None):
        self.root = root
        self.fds: dict[str, int | None] = {"": root_fd}  # folder (relative, "" the root) -> fd or None if missing
        self.committing = False  # files are being moved into place: an error leaves it part old, part new
        self.committed = False  # every file is in place
        # what to undo when the write stops before committing (the staging folder): registered by
        # whoever creates something, before creating it, so that a Ctrl-C at any instant finds it
        self.on_abort: list[Callable[[], None]] = []
        self._opened: list[int] = [root_fd] if root_fd is not None else []
        self._shown: dict[str, Path] = {}

    def adopt_root(self, root_fd: int | None) -> None:
        """The output folder's handle, once it is open."""
        self.fds[""] = root_fd
        if root_fd is not None:
            self._opened.append(root_fd)

    def close(self) -> None:
        for fd in self._opened:
            try:
                os.close(fd)
            except OSError:
                pass
        self._opened.clear()

    def display(self, rel: str) -> Path:
        """The path of ``rel`` as messages show it (made once per path: thousands per fleet)."""
        shown = self._shown.get(rel)
        if shown is None:
            shown = self._shown[rel] = self.root / rel if rel else self.root
        return shown

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
        return os.open(name, DIR, dir_fd=parent_fd)
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
        raise OutputError(f"cannot open the folder {shown}: {reason(exc)}; nothing in the output folder was changed") from None


def open_root(root: Path, *, create: bool, created: list[Path]) -> int | None:
    """Open the output folder itself (its own name must not be a link; its parents may be).
    Returns its handle (None when missing and not ``create``); each folder it creates is added to
    ``created`` just before it is made, so that a Ctrl-C right after the ``mkdir`` still finds it."""
    try:
        st: os.stat_result | None = os.stat(root, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    except OSError as exc:  # a name too long for the file system, a folder that cannot be searched
        raise OutputError(f"cannot use {root} as the output folder: {reason(exc)}; nothing was written") from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise OutputError(f"refusing to write into {root}: it is a symbolic link")
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"refusing to write into {root}: it is not a folder")
    if st is None:
        if not create:
            return None
        missing = [p for p in (root, *root.parents) if not os.path.lexists(p)]
        for path in reversed(missing):
            created.append(path)
            with os_errors("create the folder", path, "nothing was written"):
                try:
                    os.mkdir(path)
                except FileExistsError:
                    created.pop()  # made by someone else meanwhile: not ours to remove
                    continue
    with os_errors("open the folder", root):
        try:
            return os.open(root, DIR)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise OutputError(f"refusing to write into {root}: it is not a folder (or a symbolic link)") from None
            raise


def remove_created(created: list[Path]) -> None:
    """Remove the folders a write created (deepest first), as long as they are empty; each is
    dropped from ``created`` once gone."""
    while created:
        try:
            os.rmdir(created[-1])
        except FileNotFoundError:
            pass  # not made after all (the write stopped just before its mkdir)
        except OSError:
            break
        created.pop()


@contextmanager
def locked(fd: int, root: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
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
