"""Render environments into an output tree, check it, and write it atomically.

``render_files`` builds every file in memory and checks it (each ``.tf`` parses with python-hcl2,
the user-data is a well-formed Terraform template, the JSON parses). Only when everything passes
does ``write_tree`` touch the disk: files are written to a staging folder inside the output
folder and moved into place one by one, and nothing outside the output folder is ever written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import hcl2

from .errors import OutputError, Problem, RenderError, SpecError
from .escape import comment
from .hclfmt import HclFormatError, format_hcl
from .loader import Loaded, load_file
from .resources import MODULES, modules_dir
from .templating import render_template
from .values import USER_DATA_FILE, Values, compute_values

NEXTFLOW_CONFIG = "nextflow.config"
PLATFORM_JSON = "platform-compute-env.json"
ROOT_TEMPLATES = ("versions.tf", "providers.tf", "main.tf", "outputs.tf")
# Every file towergen may write into an environment's folder. Other files there (state,
# .terraform/, a backend file of the user's) are never touched.
ENV_FILES = frozenset((*ROOT_TEMPLATES, USER_DATA_FILE, NEXTFLOW_CONFIG, PLATFORM_JSON))
MIME_BOUNDARY = "==towergen-user-data=="


@dataclass(frozen=True)
class Change:
    action: str  # create | overwrite | identical | delete
    path: str  # relative to the output folder, with "/"


@dataclass
class RenderResult:
    out_dir: Path
    environments: list[str]
    changes: list[Change]
    warnings: list[Problem]


# --- building ------------------------------------------------------------------------------------


def render_environment(loaded: Loaded) -> dict[str, str]:
    """The files of one environment's folder, by name."""
    v = compute_values(loaded.resolved)
    header = [comment(line) for line in v.resolved.header]
    files: dict[str, str] = {}
    for name in ROOT_TEMPLATES:
        text = render_template("hcl", f"root/{name}.j2", **{**v.root, "header": header})
        try:
            files[name] = format_hcl(text)
        except HclFormatError as exc:
            raise RenderError(f"{loaded.env.name}/{name}: {exc}") from exc
    if v.userdata is not None:
        files[USER_DATA_FILE] = _user_data(v)
    files[NEXTFLOW_CONFIG] = render_template("groovy", "nextflow.config.j2", **{**v.nextflow, "header": header})
    files[PLATFORM_JSON] = json.dumps(v.platform, indent=2, ensure_ascii=False) + "\n"
    return files


def _user_data(v: Values) -> str:
    """The launch template's user data: MIME multipart for cloud-init, one shell part per step,
    as a Terraform template (``templatefile`` fills in the FSx names when towergen creates it)."""
    assert v.userdata is not None
    lines = [
        f'Content-Type: multipart/mixed; boundary="{MIME_BOUNDARY}"',
        "MIME-Version: 1.0",
        "",
    ]
    for filename, template, values in v.userdata["parts"]:
        script = render_template("shell", f"userdata/{template}", **values)
        if MIME_BOUNDARY in script or not script.isascii():
            raise RenderError(f"{v.resolved.name}: user-data part {filename} cannot be put in a MIME message")
        lines += [
            f"--{MIME_BOUNDARY}",
            'Content-Type: text/x-shellscript; charset="us-ascii"',
            "MIME-Version: 1.0",
            f'Content-Disposition: attachment; filename="{filename}"',
            "",
            script.rstrip("\n"),
            "",
        ]
    lines.append(f"--{MIME_BOUNDARY}--")
    text = "\n".join(lines) + "\n"
    check_template(text, set(v.userdata["variables"]), f"{v.resolved.name}/{USER_DATA_FILE}")
    return text


def check_template(text: str, variables: set[str], where: str) -> None:
    """Refuse a Terraform template whose only interpolations are not exactly ``variables``."""
    i, n = 0, len(text)
    while i < n:
        if text.startswith(("$${", "%%{"), i):
            i += 3
        elif text.startswith("${", i):
            end = text.find("}", i)
            name = text[i + 2 : end] if end > 0 else ""
            if name not in variables:
                raise RenderError(f"{where}: unexpected template sequence {text[i:i + 20]!r}")
            i = end + 1
        elif text.startswith("%{", i):
            raise RenderError(f"{where}: unexpected template directive {text[i:i + 20]!r}")
        else:
            i += 1


def module_files() -> dict[str, str]:
    """The Terraform modules every environment's root calls, copied beside the roots."""
    files = {}
    root = modules_dir()
    for module in MODULES:
        for path in sorted((root / module).iterdir()):
            if path.is_file() and (path.suffix == ".tf" or path.name == "README.md"):
                files[f"modules/{module}/{path.name}"] = path.read_text(encoding="utf-8")
    return files


def check_files(files: dict[str, str]) -> None:
    """Parse every rendered file back. A file that does not parse is an error, not a warning."""
    for path, text in sorted(files.items()):
        if path.endswith(".tf"):
            try:
                hcl2.parses_to_tree(text)  # the syntax check; python-hcl2's dict form is not needed
            except Exception as exc:  # python-hcl2 raises lark errors of many kinds
                raise RenderError(f"{path} does not parse as HCL: {str(exc).splitlines()[0]}") from exc
        elif path.endswith(".json"):
            json.loads(text)
        if not text.endswith("\n") or "\r" in text:
            raise RenderError(f"{path}: expected LF line ends and a final newline")


def load_all(paths: Iterable[str | Path]) -> list[Loaded]:
    """Load every file, collecting the problems of all of them, and check names are unique."""
    loaded: list[Loaded] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            loaded.append(load_file(path))
        except SpecError as exc:
            problems.extend(exc.problems)
    by_name: dict[str, Loaded] = {}
    for item in loaded:
        first = by_name.setdefault(item.env.name, item)
        if first is not item:
            problems.append(
                item.source.problem(
                    ("name",), f"expected a name no other file uses, found {item.env.name!r} (also in {first.source.file})", key=False
                )
            )
    if problems:
        raise SpecError(problems)
    return loaded


def render_files(loaded: list[Loaded]) -> dict[str, str]:
    """Every file of the output tree, by path relative to the output folder, checked."""
    files = module_files()
    for item in loaded:
        for name, text in render_environment(item).items():
            files[f"{item.env.name}/{name}"] = text
    check_files(files)
    return files


# --- writing -------------------------------------------------------------------------------------


def _target(root: Path, rel: str) -> Path:
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise OutputError(f"refusing to write {rel!r}: not a plain path inside the output folder")
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise OutputError(f"refusing to write through the symbolic link {path}")
    return path


def planned_changes(root: Path, files: dict[str, str], env_names: Iterable[str]) -> list[Change]:
    """What writing ``files`` into ``root`` would do, without doing it."""
    changes: list[Change] = []
    for rel, text in sorted(files.items()):
        target = _target(root, rel)
        if target.is_dir():
            raise OutputError(f"refusing to replace the folder {target} with a file")
        if not target.exists():
            changes.append(Change("create", rel))
        elif target.read_bytes() == text.encode("utf-8"):
            changes.append(Change("identical", rel))
        else:
            changes.append(Change("overwrite", rel))
    # Files towergen wrote before and would not write now: only its own names, in its own folders.
    stale: set[str] = set()
    for name in env_names:
        folder = _target(root, name)
        if folder.is_dir():
            stale |= {f"{name}/{p.name}" for p in folder.iterdir() if p.name in ENV_FILES and p.is_file()}
    for module in MODULES:
        folder = _target(root, f"modules/{module}")
        if folder.is_dir():
            stale |= {f"modules/{module}/{p.name}" for p in folder.iterdir() if p.is_file()}
    changes.extend(Change("delete", rel) for rel in sorted(stale - files.keys()))
    return changes


def write_tree(root: Path, files: dict[str, str], env_names: Iterable[str]) -> list[Change]:
    root = Path(root)
    if root.is_symlink():
        raise OutputError(f"refusing to write into {root}: it is a symbolic link")
    if root.exists() and not root.is_dir():
        raise OutputError(f"refusing to write into {root}: it is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    changes = planned_changes(root, files, env_names)
    staging = Path(tempfile.mkdtemp(prefix=".towergen-", dir=root))
    try:
        staged: list[tuple[Path, Path]] = []
        for change in changes:
            if change.action in ("create", "overwrite"):
                tmp = staging / str(len(staged))
                with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(files[change.path])
                staged.append((tmp, _target(root, change.path)))
        for tmp, target in staged:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        for change in changes:
            if change.action == "delete":
                _target(root, change.path).unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return changes
