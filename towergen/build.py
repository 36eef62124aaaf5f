"""Render environments into an output tree, check it, and write it atomically.

``render_files`` builds every file in memory and checks it (each ``.tf`` parses with python-hcl2,
the user-data is a well-formed Terraform template, the JSON parses); ``render_fleet`` does the
same for many files at once, spread over the machine's cores. Only when everything passes does
``write.py`` touch the disk.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import multiprocessing
import os
import re
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

from .errors import OutputError, Problem, RenderError, SpecError
from .escape import comment
from .hclfmt import HclFormatError, format_hcl
from .loader import Loaded, load_file
from .resources import MODULES, modules_dir
from .templating import render_template
from .values import USER_DATA_FILE, Values, compute_values
from .write import Change, write_output

NEXTFLOW_CONFIG = "nextflow.config"
PLATFORM_JSON = "platform-compute-env.json"
ROOT_TEMPLATES = ("versions.tf", "providers.tf", "main.tf", "outputs.tf")
# Every file towergen may write into an environment's folder. Other files there (state,
# .terraform/, a backend file of the user's) are never touched.
ENV_FILES = frozenset((*ROOT_TEMPLATES, USER_DATA_FILE, NEXTFLOW_CONFIG, PLATFORM_JSON))
MIME_BOUNDARY = "==towergen-user-data=="


@dataclass
class RenderResult:
    out_dir: Path
    environments: list[str]
    changes: list[Change]
    warnings: list[Problem]
    orphans: list[str] = field(default_factory=list)  # recorded in the manifest, their file gone
    checked_only: bool = False  # render(check=True): nothing was written

    @property
    def differs(self) -> bool:
        """Whether the tree differs from what was rendered (a check found work to do)."""
        return any(change.action != "identical" for change in self.changes)


# --- building ------------------------------------------------------------------------------------


def render_environment(loaded: Loaded) -> dict[str, str]:
    """The files of one environment's folder, by name."""
    source_name = Path(loaded.source.file).name
    v = compute_values(loaded.env, source_name)
    header = [comment(line) for line in v.header]
    files: dict[str, str] = {}
    for name in ROOT_TEMPLATES:
        text = render_template("hcl", f"root/{name}.j2", **{**v.root, "header": header})
        try:
            files[name] = format_hcl_cached(text)
        except HclFormatError as exc:
            raise RenderError(f"{loaded.env.name}/{name}: {exc}") from exc
    if v.userdata is not None:
        files[USER_DATA_FILE] = _user_data(v)
    files[NEXTFLOW_CONFIG] = render_template("groovy", "nextflow.config.j2", **{**v.nextflow, "header": header})
    files[PLATFORM_JSON] = json.dumps(v.platform, indent=2, ensure_ascii=False) + "\n"
    return files


# The formatted text of each HCL body (a template's output below its header comment) this
# process has formatted: many environments share files that differ only in their header.
_FORMATTED: dict[str, str] = {}


def format_hcl_cached(text: str) -> str:
    """``format_hcl(text)``, formatting the body below the leading comment lines once per
    distinct body. The formatter works line by line and a top-level comment line leaves it in its
    initial state, so the result is the same (tests/test_fleet.py checks it on every example)."""
    lines = text.split("\n")
    k = 0
    while k < len(lines) and lines[k].strip().startswith("#"):
        k += 1
    head = [line.strip() for line in lines[:k]]
    if k == 0 or k == len(lines) or any(line.endswith(("{", "[", "(")) for line in head):
        return format_hcl(text)
    rest = "\n".join(lines[k:])
    body = _FORMATTED.get(rest)
    if body is None:
        body = _FORMATTED[rest] = format_hcl(rest)
    if body == "\n":
        return "\n".join(head) + "\n"
    blank = [""] if not lines[k].strip() else []
    return "\n".join(head + blank) + "\n" + body


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
            raise RenderError(f"{v.env.name}: user-data part {filename} cannot be put in a MIME message")
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
    check_template(text, set(v.userdata["variables"]), f"{v.env.name}/{USER_DATA_FILE}")
    return text


_TEMPLATE_SEQUENCE = re.compile(r"\$\$\{|%%\{|\$\{|%\{")


def check_template(text: str, variables: set[str], where: str) -> None:
    """Refuse a Terraform template whose only interpolations are not exactly ``variables``."""
    i = 0
    while match := _TEMPLATE_SEQUENCE.search(text, i):
        seq, i = match.group(), match.start()
        if seq in ("$${", "%%{"):
            i += 3
        elif seq == "${":
            end = text.find("}", i)
            name = text[i + 2 : end] if end > 0 else ""
            if name not in variables:
                raise RenderError(f"{where}: unexpected template sequence {text[i:i + 20]!r}")
            i = end + 1
        else:
            raise RenderError(f"{where}: unexpected template directive {text[i:i + 20]!r}")


def module_files() -> dict[str, str]:
    """The Terraform modules every environment's root calls, copied beside the roots."""
    files = {}
    root = modules_dir()
    for module in MODULES:
        for path in sorted((root / module).iterdir()):
            if path.is_file() and (path.suffix == ".tf" or path.name == "README.md"):
                files[f"modules/{module}/{path.name}"] = path.read_text(encoding="utf-8")
    return files


# sha256 of each HCL text this process has parsed successfully: a text is parsed once.
_PARSED: set[bytes] = set()


@functools.cache
def _syntax_check() -> Callable[[str], object]:
    """python-hcl2's own parser (its grammar, its cached tables), without the position
    bookkeeping its data conversion needs and a syntax check does not: a third faster."""
    try:
        from hcl2.parser import parser
        from hcl2.postlexer import PostLexer
        from lark import Lark

        buffer = io.BytesIO()
        parser().save(buffer)
        buffer.seek(0)
        fast = Lark.__new__(Lark)._load(buffer, propagate_positions=False, postlex=PostLexer())
        # python-hcl2 appends a newline too: its grammar needs one at the end of a file
        return lambda text: fast.parse(text + "\n")
    except Exception:  # another python-hcl2 or lark than the one this was written for
        return hcl2.parses_to_tree


def _check_hcl(path: str, text: str) -> None:
    # The leading comment lines (the header naming the source file, different in every file) are
    # valid HCL on their own; the rest is often the same in many environments: parse it once.
    start = 0
    while text.startswith("#", start):
        end = text.find("\n", start)
        if end < 0:
            return
        start = end + 1
    body = text[start:]
    key = hashlib.sha256(body.encode("utf-8")).digest()
    if key in _PARSED:
        return
    try:
        _syntax_check()(body)  # the syntax check; python-hcl2's dict form is not needed
    except Exception as exc:  # python-hcl2 raises lark errors of many kinds
        raise RenderError(f"{path} does not parse as HCL: {str(exc).splitlines()[0]}") from exc
    _PARSED.add(key)


def check_files(files: dict[str, str]) -> None:
    """Parse every rendered file back. A file that does not parse is an error, not a warning."""
    for path, text in sorted(files.items()):
        if not text.endswith("\n") or "\r" in text:
            raise RenderError(f"{path}: expected LF line ends and a final newline")
        if path.endswith(".tf"):
            _check_hcl(path, text)
        elif path.endswith(".json"):
            try:
                json.loads(text)
            except ValueError as exc:
                raise RenderError(f"{path} does not parse as JSON: {exc}") from exc


RESERVED_NAMES = {"modules": "the output folder's shared modules folder"}


def _name_problems(loaded: list[Loaded]) -> list[Problem]:
    """Names must be unique, and must not be a folder towergen uses for something else."""
    problems: list[Problem] = []
    by_name: dict[str, Loaded] = {}
    for item in loaded:
        name = item.env.name
        if name in RESERVED_NAMES:
            problems.append(item.source.problem(
                ("name",), f"expected a name other than {name!r} (OUT/{name} is {RESERVED_NAMES[name]}), found {name!r}", key=False
            ))
            continue
        first = by_name.setdefault(name, item)
        if first is not item:
            problems.append(
                item.source.problem(
                    ("name",), f"expected a name no other file uses, found {name!r} (also in {first.source.file})", key=False
                )
            )
    return problems


def load_all(paths: Iterable[str | Path]) -> list[Loaded]:
    """Load every file, collecting the problems of all of them, and check names are unique."""
    loaded: list[Loaded] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            loaded.append(load_file(path))
        except SpecError as exc:
            problems.extend(exc.problems)
    problems += _name_problems(loaded)
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


# --- many environments at once ---------------------------------------------------------------------

# Below this many files one process is faster than starting workers.
POOL_THRESHOLD = 24


def _load_render_check(path: str | Path) -> tuple[Loaded | None, list[Problem], dict[str, str] | None, RenderError | None]:
    """One environment file, loaded, rendered and checked (in a worker process or not)."""
    try:
        loaded = load_file(path)
    except SpecError as exc:
        return None, exc.problems, None, None
    try:
        files = {f"{loaded.env.name}/{name}": text for name, text in render_environment(loaded).items()}
        check_files(files)
    except RenderError as exc:
        return loaded, [], None, RenderError(str(exc))
    return loaded, [], files, None


def _worker_start() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the workers, they stay quiet.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _jobs(count: int, jobs: int | None) -> int:
    if jobs is not None:
        return max(1, jobs)
    if count < POOL_THRESHOLD or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(os.cpu_count() or 1, 8)


def render_fleet(paths: Iterable[str | Path], *, jobs: int | None = None) -> tuple[list[Loaded], dict[str, str]]:
    """Load, render and check every file, as ``load_all`` and ``render_files`` do, over several
    processes when there are many files. Every problem of every file is reported at once."""
    paths = list(paths)
    workers = _jobs(len(paths), jobs)
    if workers == 1 or len(paths) < 2:
        results = [_load_render_check(p) for p in paths]
        check_files(module_files())
    else:
        # fork: the workers start with templates, the parser and everything imported; each
        # takes a share of the files. The modules are checked while the workers run.
        # The first file is done here first: its templates compiled and the bodies it shares
        # with the others formatted and parsed once, for every worker.
        first = _load_render_check(paths[0])
        with multiprocessing.get_context("fork").Pool(workers, initializer=_worker_start) as pool:
            rest = paths[1:]
            pending = pool.map_async(_load_render_check, rest, chunksize=max(1, len(rest) // (workers * 4)))
            check_files(module_files())
            results = [first, *pending.get()]
    problems = [p for _, found, _, _ in results for p in found]
    loaded = [item for item, _, _, _ in results if item is not None]
    problems += _name_problems(loaded)
    if problems:
        raise SpecError(problems)
    errors = [error for _, _, _, error in results if error is not None]
    if errors:
        raise errors[0]
    files = module_files()
    for _, _, rendered, _ in results:
        files.update(rendered or {})
    return loaded, files


# --- writing (see write.py) ----------------------------------------------------------------------


def owned_folders(env_names: Iterable[str]) -> dict[str, frozenset[str] | None]:
    """The folders towergen owns files in: each environment's (only its own file names) and
    each module's (every file)."""
    owned: dict[str, frozenset[str] | None] = {name: ENV_FILES for name in env_names}
    owned.update({f"modules/{module}": None for module in MODULES})
    return owned


def planned_changes(root: Path, files: dict[str, str], env_names: Iterable[str]) -> list[Change]:
    """What writing ``files`` into ``root`` would do, without doing it."""
    return write_output(root, files, owned_folders(env_names), check=True).changes


def write_tree(root: Path, files: dict[str, str], env_names: Iterable[str]) -> list[Change]:
    """Write ``files`` into ``root`` (no manifest: one environment, as the runner renders it)."""
    return write_output(root, files, owned_folders(env_names)).changes
