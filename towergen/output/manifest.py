"""The manifest ``towergen-manifest.json``: which environments an output folder holds, the file
each came from, the sha256 of what towergen rendered for it, and the sha256 of every file
towergen wrote there (the proof that a file is towergen's to overwrite or delete).

A manifest is read as untrusted input: at most ``MAX_BYTES``, a regular file opened without
following a link, at most ``MAX_DEPTH`` levels of nesting, every field of the expected type, every
name an environment name and every path a plain path inside the output folder. A manifest of a
newer format than this towergen knows is refused, never rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import OutputError
from ..spec.model import NAME_RE
from .folders import FILE_READ, reason

MANIFEST = "towergen-manifest.json"
MANIFEST_FORMAT = 2  # 2: records every file towergen wrote ("files"); 1: environments only
MAX_BYTES = 16 << 20  # 16 MiB: a manifest of 1,000 environments is about 1 MiB
MAX_DEPTH = 8  # levels of nesting (a manifest has 3)
_PATH_PART = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class EnvEntry:
    source: str  # the environment file, relative to the output folder's real path
    sha256: str  # of what towergen rendered for the environment (env_digests)


@dataclass
class Manifest:
    format: int = MANIFEST_FORMAT
    version: str = ""
    environments: dict[str, EnvEntry] = field(default_factory=dict)
    # the sha256 of each file towergen wrote (several while a render moves files into place);
    # None: a manifest of format 1, which recorded no files
    files: dict[str, tuple[str, ...]] | None = field(default_factory=dict)


_MODULE_CALL = re.compile(r'source\s*=\s*"\.\./modules/([A-Za-z0-9_-]+)"')


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def env_digests(names: Iterable[str], files: dict[str, str]) -> dict[str, str]:
    """For each environment, the sha256 of its generated files and of the module files (``.tf``)
    it calls: what Terraform would apply for it. Each file is hashed as its path, its length in
    bytes and its bytes; a module as the sha256 of its files, hashed so once."""
    by_folder: dict[str, list[str]] = {}
    for rel in sorted(files):
        by_folder.setdefault(rel.rpartition("/")[0], []).append(rel)

    def update(h: Any, rel: str) -> None:
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


# --- reading ---------------------------------------------------------------------------------------


def read_bounded(fd: int, shown: Path | str, limit: int = MAX_BYTES) -> bytes:
    """The bytes of the open regular file ``fd`` (closed here), at most ``limit``."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{shown}: expected towergen's manifest, a regular file, found something else; nothing was written")
        if st.st_size > limit:
            raise OutputError(f"{shown}: expected a manifest of at most {limit >> 20} MiB, found {st.st_size} bytes; nothing was written")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise OutputError(f"cannot read {shown}: {reason(exc)}; nothing was written") from None
    finally:
        os.close(fd)
    if size > limit:
        raise OutputError(f"{shown}: expected a manifest of at most {limit >> 20} MiB, found more; nothing was written")
    return b"".join(chunks)


def read_manifest_at(root_fd: int | None, root: Path) -> Manifest | None:
    """The manifest of the tree whose folder handle is ``root_fd`` (None when there is none)."""
    if root_fd is None:
        return None
    shown = root / MANIFEST
    try:
        fd = os.open(MANIFEST, FILE_READ, dir_fd=root_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if _is_link(root_fd, MANIFEST):
            raise OutputError(f"{shown}: expected towergen's manifest, found a symbolic link; nothing was written") from None
        raise OutputError(f"cannot read {shown}: {reason(exc)}; nothing was written") from None
    return parse_manifest(read_bounded(fd, shown), shown)


def read_manifest_file(path: Path) -> Manifest | None:
    """The manifest at ``path`` (None when there is none), read as ``read_manifest_at`` does."""
    try:
        fd = os.open(path, FILE_READ)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            raise OutputError(f"{path}: expected towergen's manifest, found a symbolic link") from None
        raise OutputError(f"cannot read {path}: {reason(exc)}") from None
    return parse_manifest(read_bounded(fd, path), path)


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _depth(data: bytes) -> int:
    """The deepest nesting of JSON arrays and objects in ``data``, strings skipped."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def plain_path(rel: str) -> bool:
    """A path towergen writes: ``<environment>/<file>`` or ``modules/<module>/<file>``."""
    parts = rel.split("/")
    return 2 <= len(parts) <= 3 and all(_PATH_PART.fullmatch(p) and p not in (".", "..") for p in parts) and (
        len(parts) == 2 or parts[0] == "modules"
    )


def parse_manifest(data: bytes, shown: Path | str) -> Manifest:
    """A manifest from its bytes; an OutputError says what is wrong with it."""

    def refuse(why: str) -> OutputError:
        return OutputError(
            f"{shown}: expected towergen's manifest, found {why}; nothing was written: restore it from version "
            "control or delete it (towergen then treats the folder as new and touches only its own files)"
        )

    if len(data) > MAX_BYTES:
        raise refuse(f"{len(data)} bytes (at most {MAX_BYTES >> 20} MiB)")
    if _depth(data) > MAX_DEPTH:
        raise refuse(f"JSON nested more than {MAX_DEPTH} levels")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise refuse(f"something that is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise refuse("JSON that is not an object")
    fmt = doc.get("format", 1)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise refuse(f"format {fmt!r}")
    if fmt > MANIFEST_FORMAT:
        raise OutputError(
            f"{shown} was written by towergen {str(doc.get('towergen', ''))[:40] or '(unknown)'} in manifest format "
            f"{fmt}, newer than this towergen knows ({MANIFEST_FORMAT}); nothing was written: upgrade towergen "
            "(pip install --upgrade towergen) to render into this folder"
        )
    envs = doc.get("environments")
    if not isinstance(envs, dict):
        raise refuse("no environments mapping")
    environments: dict[str, EnvEntry] = {}
    for name, entry in envs.items():
        # names become folder names: nothing else may come from a manifest
        if not isinstance(name, str) or not re.fullmatch(NAME_RE, name) or name == "modules":
            raise refuse(f"the environment name {str(name)[:40]!r}")
        if not (isinstance(entry, dict) and isinstance(entry.get("source"), str) and isinstance(entry.get("sha256"), str)):
            raise refuse(f"environments.{name}: expected {{source, sha256}}")
        environments[name] = EnvEntry(entry["source"], entry["sha256"])
    files: dict[str, tuple[str, ...]] | None = None
    if fmt >= 2:
        raw = doc.get("files")
        if not isinstance(raw, dict):
            raise refuse("no files mapping")
        files = {}
        for rel, digest in raw.items():
            digests = [digest] if isinstance(digest, str) else digest
            if not isinstance(rel, str) or not plain_path(rel):
                raise refuse(f"the file path {str(rel)[:60]!r}")
            if not isinstance(digests, list) or not digests or not all(isinstance(d, str) and re.fullmatch(r"[0-9a-f]{64}", d) for d in digests):
                raise refuse(f"files.{rel}: expected a sha256")
            files[rel] = tuple(digests)
    version = doc.get("towergen", "")
    return Manifest(fmt, version if isinstance(version, str) else "", environments, files)


# --- writing ---------------------------------------------------------------------------------------


def manifest_text(manifest: Manifest) -> str:
    files = manifest.files or {}
    doc = {
        "about": "Written by towergen render: the environments of this folder and the files towergen wrote. Do not edit.",
        "format": MANIFEST_FORMAT,
        "towergen": manifest.version,
        "environments": {
            name: {"source": entry.source, "sha256": entry.sha256} for name, entry in sorted(manifest.environments.items())
        },
        "files": {rel: digests[0] if len(digests) == 1 else list(digests) for rel, digests in sorted(files.items())},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# --- environment files recorded in a manifest ------------------------------------------------------


def real_root(root: Path) -> str:
    """The real path of an output folder: every path in its manifest is relative to it, so a
    symbolic link above the folder changes nothing."""
    return os.path.realpath(root)


def source_rel(root: Path, source: Path) -> str:
    return PurePosixPath(Path(os.path.relpath(os.path.realpath(source), real_root(root)))).as_posix()


def source_path(root: Path, rel: str) -> Path:
    return Path(os.path.normpath(os.path.join(real_root(root), rel)))


def source_exists(root: Path, rel: str) -> bool:
    return source_path(root, rel).is_file()


def recorded_source(root: Path, name: str, allowed: Iterable[Path]) -> Path | None:
    """The environment file the manifest of ``root`` records for ``name``, if it still exists.
    It must lie inside one of the ``allowed`` folders (the repository, the folder holding the
    output folder): a manifest never makes towergen read a file elsewhere."""
    manifest = read_manifest_file(Path(root) / MANIFEST)
    entry = manifest.environments.get(name) if manifest else None
    if entry is None:
        return None
    path = source_path(root, entry.source)
    real = os.path.realpath(path)
    folders = [os.path.realpath(folder) for folder in allowed]
    if not any(os.path.commonpath([real, folder]) == folder for folder in folders):
        raise OutputError(
            f"{Path(root) / MANIFEST}: the environment {name} is recorded as coming from {entry.source!r}, which is "
            f"outside {' and '.join(folders)}: refusing to read it (render the folder again from its environment file)"
        )
    return path if path.is_file() else None
