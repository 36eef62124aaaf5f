"""``--target localstack``: LocalStack, where it listens, and whether it provides what a run
needs. Its state is kept between runs (LocalStack outlives them), outside the repository."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ...errors import EmulatorError
from ..workspace import Workspace
from .base import EmulatorTarget, cache_dir

if TYPE_CHECKING:
    from ...decide.resolved import Resolved


def localstack_endpoint(given: str | None = None) -> str:
    if given:
        return given.rstrip("/")
    try:
        from localstack_client.config import get_service_endpoint
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise EmulatorError("the localstack target needs localstack-client: pip install 'towergen[emulator]'") from exc
    return (get_service_endpoint("s3") or "http://localhost:4566").rstrip("/")


LOCALSTACK_PAID = {"batch", "ecs", "fsx"}


def services_needed(r: Resolved | None, command: str) -> list[str]:
    """The AWS services a command touches for this environment."""
    from ..emulator import SERVICES

    if r is None:  # a rendered folder: what any environment may use
        return ["ec2", "s3", "ssm", "sts"] if command == "plan" else list(SERVICES)
    needed = {"sts", "iam", "s3"}
    if not r.forge:
        needed.add("batch")
    else:
        needed |= {"ec2", "ssm", "batch"}
        if r.fsx_create:
            needed.add("fsx")
    if command == "plan":  # a plan of new resources only reads data sources
        needed &= {"sts", "ec2", "ssm", "s3"} | ({"batch"} if not r.forge else set())
    return sorted(needed)


def check_localstack(endpoint: str, services: list[str]) -> None:
    """Stop, with an explanation, when LocalStack does not provide a service the run needs."""
    import urllib.error

    from ..emulator import open_url

    url = f"{endpoint}/_localstack/health"
    try:
        with open_url(url, timeout=5) as response:
            health = json.loads(response.read().decode("utf-8") or "{}")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return  # not LocalStack itself (another emulator speaking the AWS protocol)
        raise EmulatorError(f"LocalStack at {endpoint} answered {exc.code} to {url}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise EmulatorError(
            f"no LocalStack answers at {endpoint} ({exc}); start it, or set LOCALSTACK_HOST or --endpoint"
        ) from exc
    states = health.get("services") or {}
    missing = [s for s in services if states.get(s) not in ("available", "running")]
    if missing:
        paid = [s for s in missing if s in LOCALSTACK_PAID]
        why = (
            f" LocalStack Community answers 501 for {', '.join(paid)}: they are part of LocalStack's paid plan."
            if paid else ""
        )
        raise EmulatorError(
            f"LocalStack at {endpoint} does not provide {', '.join(missing)}, which this run needs.{why} "
            "Use --target local (the embedded emulator) instead."
        )


class LocalStack(EmulatorTarget):
    name = "localstack"
    commands: ClassVar[frozenset[str]] = frozenset({"plan", "apply", "destroy", "smoke"})

    def state_cache(self, ws: Workspace) -> Path:
        """Where the environment's LocalStack state lives between runs."""
        assert ws.endpoint is not None
        host = ws.endpoint.split("://", 1)[-1].replace(":", "_").replace("/", "_")
        return cache_dir() / "localstack" / host / ws.name

    @contextmanager
    def kept_state(self, ws: Workspace) -> Iterator[None]:
        ws.endpoint = localstack_endpoint(self.given_endpoint)
        cache = self.state_cache(ws)
        state = cache / "terraform.tfstate"
        if state.exists():
            shutil.copy2(state, ws.root / "terraform.tfstate")
        yield
        if (ws.root / "terraform.tfstate").exists():
            cache.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ws.root / "terraform.tfstate", state)

    def check_services(self, ws: Workspace, command: str) -> None:
        assert ws.endpoint is not None
        check_localstack(ws.endpoint, services_needed(ws.loaded.resolved if ws.loaded else None, command))

    @contextmanager
    def running(self, ws: Workspace) -> Iterator[None]:
        from ..emulator import write_override

        assert ws.endpoint is not None
        write_override(ws.root, ws.endpoint)
        yield

    def describe(self, ws: Workspace) -> str:
        return f"LocalStack at {ws.endpoint}"
