"""``--target local``: the embedded moto emulator, started for one run and gone after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from ..workspace import Workspace
from .base import EmulatorTarget


class Local(EmulatorTarget):
    name = "local"
    commands: ClassVar[frozenset[str]] = frozenset({"plan", "apply", "smoke"})
    keeps_state = False
    refusals: ClassVar[dict[str, str]] = {
        "destroy": "nothing to destroy on the embedded emulator: it starts empty for every run and its state "
        "goes with it (towergen smoke applies and destroys in one run; --target localstack or aws keep "
        "state between runs)",
    }

    @contextmanager
    def running(self, ws: Workspace) -> Iterator[None]:
        from ..emulator import MotoServer, write_override

        with MotoServer() as server:
            ws.endpoint = server.endpoint
            write_override(ws.root, server.endpoint)
            yield

    def describe(self, ws: Workspace) -> str:
        from ..moto_patches import moto_version

        return f"the embedded emulator (moto {moto_version()} at {ws.endpoint})"
