"""Several environment files at once: each loaded on its own, then the rules across them (no two
environments share a name, a folder or a state object)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import Problem, SpecError
from ..spec.describe import describe
from .validate import Loaded, load_file

RESERVED_NAMES = {"modules": "the output folder's shared modules folder"}


def fleet_problems(loaded: list[Loaded]) -> list[Problem]:
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
    return problems + _shared_states(loaded) + _shared_buckets(loaded) + _shared_platform_names(loaded)


def load_all(paths: Iterable[str | Path]) -> list[Loaded]:
    """Load every file, collecting the problems of all of them, and check names are unique."""
    loaded: list[Loaded] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            loaded.append(load_file(path))
        except SpecError as exc:
            problems.extend(exc.problems)
    problems += fleet_problems(loaded)
    if problems:
        raise SpecError(problems)
    return loaded


def _shared_states(loaded: list[Loaded]) -> list[Problem]:
    """Two environments with one state object would each plan to destroy the other's resources."""
    problems: list[Problem] = []
    first: dict[tuple[str, str], Loaded] = {}
    for item in loaded:
        backend = item.env.backend
        if backend is None:
            continue
        state = (backend.bucket, item.resolved.state_key or "")
        other = first.setdefault(state, item)
        if other is not item:
            loc = ("backend", "key") if item.source.has("backend", "key") else ("backend",)
            problems.append(item.source.problem(
                loc, f"expected a state key no other environment uses, found {state[1]!r} in bucket {state[0]} "
                f"(also {other.source.file}: each apply would destroy the other's resources)", key=False,
            ))
    return problems


def _shared_buckets(loaded: list[Loaded]) -> list[Problem]:
    """Two environments that both create one bucket: the second apply fails (the name is taken),
    and a destroy of either would delete the other's work files."""
    problems: list[Problem] = []
    first: dict[str, Loaded] = {}
    for item in loaded:
        r = item.resolved
        if not r.create_bucket or r.work_bucket is None:
            continue
        other = first.setdefault(r.work_bucket, item)
        if other is not item:
            problems.append(item.source.problem(
                ("work_dir",), f"expected a work bucket no other environment creates, found {r.work_bucket} "
                f"(also created by {other.source.file}): set storage.create_bucket: false in one of them, or use "
                "another bucket", key=False,
            ))
    return problems


def _shared_platform_names(loaded: list[Loaded]) -> list[Problem]:
    """Two environments registering one name in one platform workspace: their compute
    environments and credentials would collide, and each apply would fight over them."""
    problems: list[Problem] = []
    first: dict[tuple[str | None, str, str], Loaded] = {}
    for item in loaded:
        plan = item.resolved.platform
        p = item.env.platform
        if plan is None or p is None:
            continue
        key = (plan.server_url, str(p.workspace), plan.name)
        other = first.setdefault(key, item)
        if other is not item:
            loc = ("platform", "name") if item.source.has("platform", "name") else ("platform",)
            problems.append(item.source.problem(
                loc, f"expected a platform name no other environment registers in workspace {p.workspace}, found "
                f"{describe(plan.name)} (also {other.source.file}): set platform.name in one of them", key=False,
            ))
    return problems
