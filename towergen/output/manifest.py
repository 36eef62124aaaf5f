"""The manifest ``towergen-manifest.json``: which environments an output folder holds, the file
each came from and the sha256 of what towergen rendered for it."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import OutputError, TowergenError
from ..spec.model import NAME_RE
from .folders import FILE_READ, reason

MANIFEST = "towergen-manifest.json"
MANIFEST_FORMAT = 1


_MODULE_CALL = re.compile(r'source\s*=\s*"\.\./modules/([A-Za-z0-9_-]+)"')


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


def read_manifest_at(root_fd: int | None, root: Path) -> dict[str, Any]:
    """The manifest of the tree (empty when there is none)."""
    if root_fd is None:
        return {}
    try:
        fd = os.open(MANIFEST, FILE_READ, dir_fd=root_fd)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise OutputError(f"cannot read {root / MANIFEST}: {reason(exc)}; nothing was written") from None
    with open(fd, "rb") as fh:
        data = fh.read()
    return parse_manifest(data, root / MANIFEST)


def parse_manifest(data: bytes, shown: Path | str) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(data)
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


def source_rel(root: Path, source: Path) -> str:
    return PurePosixPath(Path(os.path.relpath(os.path.abspath(source), os.path.abspath(root)))).as_posix()


def recorded_source(root: Path, name: str) -> Path | None:
    """The environment file the manifest of ``root`` records for ``name``, if it still exists."""
    try:
        entry = parse_manifest((Path(root) / MANIFEST).read_bytes(), Path(root) / MANIFEST)["environments"].get(name)
    except (OSError, TowergenError):
        return None
    if not entry or not source_exists(root, entry["source"]):
        return None
    return Path(os.path.normpath(os.path.join(os.path.abspath(root), entry["source"])))


def source_exists(root: Path, rel: str) -> bool:
    return os.path.isfile(os.path.join(os.path.abspath(root), rel))
