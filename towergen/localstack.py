"""LocalStack as a target: where it listens, and whether it provides what a run needs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from .emulator import SERVICES
from .errors import EmulatorError
from .loader import Loaded


def localstack_endpoint(given: str | None = None) -> str:
    if given:
        return given.rstrip("/")
    try:
        from localstack_client.config import get_service_endpoint
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise EmulatorError("the localstack target needs localstack-client: pip install 'towergen[emulator]'") from exc
    return (get_service_endpoint("s3") or "http://localhost:4566").rstrip("/")


LOCALSTACK_PAID = {"batch", "ecs", "fsx"}


def services_needed(loaded: Loaded | None, command: str) -> list[str]:
    """The AWS services a command touches for this environment."""
    if loaded is None:  # a rendered folder: what any environment may use
        return ["ec2", "s3", "ssm", "sts"] if command == "plan" else list(SERVICES)
    env = loaded.env
    needed = {"sts", "iam", "s3"}
    if env.mode == "manual":
        needed.add("batch")
    else:
        needed |= {"ec2", "ssm", "batch"}
        if env.fsx is not None and env.fsx.create is not None:
            needed.add("fsx")
    if command == "plan":  # a plan of new resources only reads data sources
        needed &= {"sts", "ec2", "ssm", "s3"} | ({"batch"} if env.mode == "manual" else set())
    return sorted(needed)


def check_localstack(endpoint: str, services: list[str]) -> None:
    """Stop, with an explanation, when LocalStack does not provide a service the run needs."""
    url = f"{endpoint}/_localstack/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
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
