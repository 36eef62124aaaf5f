"""Narrow fixes to moto, applied only to the embedded emulator in this process.

Each one makes moto answer as AWS does where the AWS provider reads a field that moto leaves out
(or adds), which would otherwise hang an apply or show drift on a clean re-plan. Nothing here
changes what towergen renders; it only makes the rehearsal faithful. Each patch is idempotent.

1. FSx: moto returns no ``Lifecycle`` (the provider's create waiter polls for AVAILABLE forever)
   and no Lustre ``MountName``. AWS reports AVAILABLE once a file system is ready and always has
   a mount name (eight lowercase characters for SCRATCH_2/PERSISTENT; "fsx" for SCRATCH_1).
2. Launch templates: moto copies the request's ``launch-template`` tag specification into the
   template *data*, where AWS does not allow that resource type; the provider then sees a
   tag_specifications block nobody configured.
3. Batch job queues: moto drops ``jobStateTimeLimitActions``; AWS stores and describes them.
4. Security group rules that reference another group: moto describes them without their
   ``Description`` (it only looks for one on CIDR rules).
5. FSx deletion: moto removes a file system at once, but the AWS provider (5.100) then waits
   for the deletion without polling the emulator before its delete timeout (30 minutes), so a
   destroy hangs. moto still deletes it, then answers FileSystemNotFound, the answer the
   provider takes as "already gone" (AWS answers DELETING and the file system disappears a few
   minutes later).
6. Batch compute environments without a service role: AWS then uses (and, the first time,
   creates) the AWSServiceRoleForBatch service-linked role; moto insists on a service role.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from ..errors import EmulatorError

_APPLIED = False


def supported_range() -> str:
    """The moto releases these fixes were written for: the range pyproject.toml declares (and
    CI proves at both ends), read from towergen's installed metadata."""
    import re
    from importlib.metadata import PackageNotFoundError, requires

    try:
        for requirement in requires("towergen") or []:
            match = re.match(r"moto(\[[^]]*\])?\s*([^;]+)", requirement)
            if match:
                parts = match.group(2).replace(" ", "").split(",")
                return ",".join(sorted(parts, key=lambda part: not part.startswith(">")))
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled checkout
        pass
    return "(see pyproject.toml)"


class UnsupportedMoto(EmulatorError):
    """moto has changed where a fix applies: the message names the version and the range."""


def moto_version() -> str:
    try:
        from importlib.metadata import version

        return version("moto")
    except Exception:  # pragma: no cover - moto installed without metadata
        return "unknown"


def apply() -> None:
    """Apply every fix once. A fix that no longer finds its place in moto stops with one line
    naming the installed moto and the supported range, never with a traceback."""
    global _APPLIED
    if _APPLIED:
        return
    try:
        _patch_fsx()
        _patch_launch_templates()
        _patch_job_queues()
        _patch_security_group_rules()
        _patch_batch_service_linked_role()
    except (ImportError, AttributeError, UnsupportedMoto) as exc:
        supported = supported_range()
        raise UnsupportedMoto(
            f"the embedded emulator's fixes do not fit moto {moto_version()} ({exc}); towergen supports "
            f"moto {supported}: pip install 'moto[server]{supported}'"
        ) from None
    _APPLIED = True


def handler_name(cls: type, operation: str) -> str:
    """The name of the method of a moto response class that answers the AWS ``operation``
    (``CreateJobQueue``), however this moto spells it (``createjobqueue``, ``create_job_queue``)."""
    wanted = operation.lower()
    found = [name for name in vars(cls) if name.replace("_", "").lower() == wanted and callable(getattr(cls, name))]
    if len(found) != 1:
        raise UnsupportedMoto(f"{cls.__name__} has {len(found)} handlers for {operation}")
    return found[0]


def _patch_fsx() -> None:
    from moto.fsx.models import FileSystem

    original = FileSystem.to_dict

    def to_dict(self: Any) -> dict[str, Any]:
        data = original(self)
        data.setdefault("Lifecycle", "AVAILABLE")
        if data.get("FileSystemType") == "LUSTRE":
            lustre = dict(data.get("LustreConfiguration") or {})
            if "MountName" not in lustre:
                if lustre.get("DeploymentType") == "SCRATCH_1":
                    lustre["MountName"] = "fsx"
                else:
                    lustre["MountName"] = hashlib.sha256(self.file_system_id.encode()).hexdigest()[:8]
            data["LustreConfiguration"] = lustre
        return data

    FileSystem.to_dict = to_dict

    from moto.fsx.exceptions import FileSystemNotFound
    from moto.fsx.models import FSxBackend

    original_delete = FSxBackend.delete_file_system

    def delete_file_system(self: Any, file_system_id: str, *args: Any, **kwargs: Any) -> Any:
        original_delete(self, file_system_id, *args, **kwargs)
        raise FileSystemNotFound(file_system_id)

    FSxBackend.delete_file_system = delete_file_system


def _patch_launch_templates() -> None:
    from moto.ec2.models.launch_templates import LaunchTemplateBackend

    original = LaunchTemplateBackend.create_launch_template

    def create_launch_template(self: Any, name: str, description: str, template_data: dict[str, Any],
                               tag_spec: dict[str, Any]) -> Any:
        specs = template_data.get("TagSpecifications")
        if specs:
            template_data["TagSpecifications"] = [s for s in specs if s.get("ResourceType") != "launch-template"]
            if not template_data["TagSpecifications"]:
                del template_data["TagSpecifications"]
        return original(self, name, description, template_data, tag_spec)

    LaunchTemplateBackend.create_launch_template = create_launch_template


def _patch_job_queues() -> None:
    from moto.batch.models import JobQueue
    from moto.batch.responses import BatchResponse

    original_describe = JobQueue.describe

    def describe(self: Any) -> dict[str, Any]:
        data = original_describe(self)
        actions = getattr(self, "job_state_time_limit_actions", None)
        if actions:
            data["jobStateTimeLimitActions"] = actions
        return data

    JobQueue.describe = describe

    def remember(operation: str) -> None:
        method_name = handler_name(BatchResponse, operation)
        original = getattr(BatchResponse, method_name)

        def handler(self: Any) -> Any:
            body = original(self)
            actions = self._get_param("jobStateTimeLimitActions")
            if actions is not None:
                queue = self.batch_backend.get_job_queue(json.loads(body)["jobQueueArn"])
                if queue is not None:
                    queue.job_state_time_limit_actions = actions
            return body

        setattr(BatchResponse, method_name, handler)

    remember("CreateJobQueue")
    remember("UpdateJobQueue")


def _patch_security_group_rules() -> None:
    from moto.ec2.models.security_groups import SecurityGroupRule

    def description(self: Any) -> str | None:
        return self.ip_range.get("Description") or (self.source_group or {}).get("Description")

    SecurityGroupRule.description = property(description)  # type: ignore[assignment]


def _patch_batch_service_linked_role() -> None:
    from moto.batch.models import BatchBackend

    original = BatchBackend.create_compute_environment
    lock = threading.Lock()  # Terraform creates compute environments in parallel
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }

    def service_linked_role(iam: Any) -> Any:
        with lock:
            for role in iam.roles.values():
                if role.name == "AWSServiceRoleForBatch":
                    return role.arn
            return iam.create_role(
                "AWSServiceRoleForBatch", json.dumps(trust), "/aws-service-role/batch.amazonaws.com/",
                permissions_boundary=None, description="", tags=[], max_session_duration="3600",
                linked_service="batch.amazonaws.com",
            ).arn

    def create_compute_environment(self: Any, compute_environment_name: str, _type: str, state: str,
                                   compute_resources: Any, service_role: str, *args: Any, **kwargs: Any) -> Any:
        if not service_role:
            service_role = service_linked_role(self.iam_backend)
        return original(self, compute_environment_name, _type, state, compute_resources, service_role, *args, **kwargs)

    BatchBackend.create_compute_environment = create_compute_environment
