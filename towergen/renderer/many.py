"""Many environment files at once: each loaded, rendered and checked, over several processes when
there are many, then the rules across files. Every problem of every file is reported at once."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterable
from pathlib import Path

from ..errors import Problem, RenderError, SpecError
from ..loader.fleet import fleet_problems
from ..loader.validate import Loaded, load_file
from .checks import check_files
from .environment import module_files, render_environment

# Below this many files one process is faster than starting workers.
POOL_THRESHOLD = 24

_Result = tuple[Loaded | None, list[Problem], dict[str, str] | None, RenderError | None]


def render_files(loaded: list[Loaded]) -> dict[str, str]:
    """Every file of the output tree for ``loaded``, by path relative to the output folder, checked."""
    files = module_files()
    rendered: dict[str, str] = {}
    for item in loaded:
        for name, text in render_environment(item.resolved).items():
            rendered[f"{item.env.name}/{name}"] = text
    check_files(rendered)
    files.update(rendered)
    return files


def _load_render_check(path: str | Path) -> _Result:
    """One environment file, loaded, rendered and checked (in a worker process or not)."""
    try:
        loaded = load_file(path)
    except SpecError as exc:
        return None, exc.problems, None, None
    try:
        files = {f"{loaded.env.name}/{name}": text for name, text in render_environment(loaded.resolved).items()}
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


def render_many(paths: Iterable[str | Path], *, jobs: int | None = None) -> tuple[list[Loaded], dict[str, str]]:
    """Load, render and check every file, over several processes when there are many files."""
    paths = list(paths)
    workers = _jobs(len(paths), jobs)
    if workers == 1 or len(paths) < 2:
        results = [_load_render_check(p) for p in paths]
    else:
        # fork: the workers start with templates, the parser and everything imported; each
        # takes a share of the files. The first file is done here first: its templates compiled
        # and the bodies it shares with the others formatted and parsed once, for every worker.
        first = _load_render_check(paths[0])
        with multiprocessing.get_context("fork").Pool(workers, initializer=_worker_start) as pool:
            rest = paths[1:]
            results = [first, *pool.map(_load_render_check, rest, chunksize=max(1, len(rest) // (workers * 4)))]
    problems = [p for _, found, _, _ in results for p in found]
    loaded = [item for item, _, _, _ in results if item is not None]
    problems += fleet_problems(loaded)
    if problems:
        raise SpecError(problems)
    errors = [error for _, _, _, error in results if error is not None]
    if errors:
        raise errors[0]
    files = module_files()
    for _, _, rendered, _ in results:
        files.update(rendered or {})
    return loaded, files
