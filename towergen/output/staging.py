"""Staging folders: every new or changed file is written inside ``.towergen-staging-*`` in the
output folder before anything is moved into place; those left by a render that was killed are
removed by the next one (only folders that are towergen's own and whose owner is gone)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path

from .folders import DIR, FILE_NEW, FILE_READ, Tree, os_errors

STAGING_PREFIX = ".towergen-staging-"
STAGING_MARKER = ".towergen-staging"
# A staging folder whose owner cannot be checked (another host) counts as stale after this long.
STALE_AFTER_S = 3600
# The name says whose a staging folder is, so that one whose render was killed before it could
# write anything into it (the marker included) is still recognised: .towergen-staging-HOST-PID-RANDOM
_STAGING_NAME = re.compile(re.escape(STAGING_PREFIX) + r"([0-9a-f]{8})-([0-9]+)-[0-9a-f]{8}")


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]


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
    """A staging folder of towergen's own (its name or its marker says so) whose owner is gone."""
    try:
        fd = os.open(name, DIR, dir_fd=root_fd)
    except OSError:
        return False
    named = _STAGING_NAME.fullmatch(name)
    if named is not None:
        try:
            old = time.time() - os.fstat(fd).st_mtime > STALE_AFTER_S
        except OSError:
            old = False
        finally:
            os.close(fd)
        host, pid = named.group(1), int(named.group(2))
        return old or (host == _host_tag() and not _pid_alive(pid))
    try:
        mfd = os.open(STAGING_MARKER, FILE_READ, dir_fd=fd)
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
        fd = os.open(name, DIR, dir_fd=root_fd)
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


class Staging:
    def __init__(self, tree: Tree):
        self.tree = tree
        self.name = f"{STAGING_PREFIX}{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}"
        self.shown = tree.root / self.name
        self.fds: dict[str, int] = {}
        # The writer removes it if the write stops before committing, whenever that is (a Ctrl-C
        # right after the mkdir below, or right after this constructor returns): known before made.
        tree.on_abort.append(self.remove)
        root_fd = tree.fds[""]
        try:
            with os_errors("create the staging folder", self.shown):
                os.mkdir(self.name, 0o700, dir_fd=root_fd)
            self.fds[""] = os.open(self.name, DIR, dir_fd=root_fd)
            marker = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "by": "towergen render"}
            self.write("", STAGING_MARKER, json.dumps(marker).encode(), self.shown / STAGING_MARKER)
        except BaseException:
            self.remove()
            raise

    def folder(self, rel: str) -> int:
        if rel not in self.fds:
            parent_rel, _, name = rel.rpartition("/")
            parent = self.folder(parent_rel)
            with os_errors("create the folder", self.shown / rel):
                os.mkdir(name, dir_fd=parent)
            self.fds[rel] = os.open(name, DIR, dir_fd=parent)
        return self.fds[rel]

    def write(self, folder: str, name: str, data: bytes, shown: Path) -> None:
        fd = self.folder(folder)
        with os_errors("write", shown):
            out = os.open(name, FILE_NEW, 0o666, dir_fd=fd)
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
