"""platform.tf: the environment registered in the Seqera Platform by the same apply (the
seqeralabs/seqera provider), from the same fields as the platform's import file.

One source of truth: ``platform_values`` (values.py) builds the compute environment's fields once,
by the platform API's JSON names, for ``platform-compute-env.json``; ``config_arguments`` turns
those very fields into the provider's ``seqera_aws_batch_ce.config``, renaming each as the provider
does (``CONFIG_ARGUMENTS``). A field with no provider argument stops the render. The Terraform
outputs print the same values (outputs.tf: the queues, the work directory, the job roles).
"""

from __future__ import annotations

from typing import Any

from ..decide.platform import PROVIDER_SOURCE, PROVIDER_VERSION, PlatformPlan
from ..decide.resolved import Resolved
from ..errors import RenderError
from .apply_time import REFERENCE_OF_STANDIN
from .escape import Hcl, hcl, hcl_ident, hcl_list, hcl_map, hcl_ref

# The locals platform.tf defines. main.tf reads the External ID (the platform role's trust), so an
# emulator run, which leaves platform.tf out, defines it with a stand-in (towergen.run.emulator).
EXTERNAL_ID_LOCAL = "platform_external_id"
WORKSPACE_ID_LOCAL = "platform_workspace_id"

# The platform API's JSON name of each compute environment field (platform-compute-env.json, tw
# compute-envs import) -> the provider's argument in seqera_aws_batch_ce.config (v0.42.0: its model
# structs' tfsdk tags joined with the API's json tags; tests/contracts/seqera-provider-schema.json
# records the same as each argument's api_name, and a test holds the two equal).
CONFIG_ARGUMENTS = {
    "region": "region",
    "workDir": "work_dir",
    "headQueue": "head_queue",
    "computeQueue": "compute_queue",
    "headJobRole": "head_job_role",
    "computeJobRole": "compute_job_role",
    "executionRole": "execution_role",
    "cliPath": "cli_path",
    "waveEnabled": "enable_wave",
    "fusion2Enabled": "enable_fusion",
    "nvnmeStorageEnabled": "nvme_storage_enabled",  # sic: the API's spelling
    "fusionSnapshots": "fusion_snapshots",
    "logGroup": "log_group",
    "headJobCpus": "head_job_cpus",
    "headJobMemoryMb": "head_job_memory_mb",
    "preRunScript": "pre_run_script",
    "postRunScript": "post_run_script",
    "nextflowConfig": "nextflow_config",
    "environment": "environment",
}
# Fields of the import file that are no config argument: the provider sends the discriminator
# itself, and labels are seqera_labels resources, attached by their ids (label_ids).
NOT_CONFIG = ("discriminator", "labels")
def config_arguments(r: Resolved, fields: dict[str, Any]) -> list[tuple[Hcl, Hcl]]:
    """seqera_aws_batch_ce's config, argument by argument, from the import file's ``fields``
    (without account_id: with the job roles' stand-ins, renderer/apply_time.py)."""
    out: list[tuple[Hcl, Hcl]] = []
    for api, value in fields.items():
        if api in NOT_CONFIG:
            continue
        argument = CONFIG_ARGUMENTS.get(api)
        if argument is None:
            raise RenderError(f"{r.name}: the platform field {api} has no argument in the seqera provider's config (renderer/platform.py)")
        out.append((hcl_ident(argument), _value(value)))
    return out


def _value(value: Any) -> Hcl:
    if isinstance(value, str) and value in REFERENCE_OF_STANDIN:
        # a job role's ARN, known only after apply (no account_id): the module output that has it
        return hcl_ref(REFERENCE_OF_STANDIN[value])
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return hcl_list([hcl_map(v, inline=True) for v in value], multiline=True)
    return hcl(value)


def label_resource(name: str) -> Hcl:
    """The seqera_labels resource of one label: ``label_<name>`` (a label's name is a valid HCL
    identifier once prefixed: letters, digits, '-' and '_')."""
    return hcl_ident(f"label_{name}")


def platform_tf_values(r: Resolved, fields: dict[str, Any]) -> dict[str, Any]:
    """What templates/root/platform.tf.j2 prints."""
    plan = r.platform
    assert plan is not None
    labels = [
        {"resource": hcl(str(label_resource(n))), "name": hcl(n), "value": hcl(v)} for n, v in plan.labels
    ]
    depends = ["module.iam"]
    if r.work_bucket is not None:
        depends.append("module.storage")
    if r.forge:
        depends.append("module.compute")
    return {
        "provider_source": hcl(PROVIDER_SOURCE),
        "provider_version": hcl(PROVIDER_VERSION),
        "server_url": hcl(plan.server_url) if plan.server_url else None,
        "organization": hcl(plan.organization) if plan.organization is not None else None,
        "workspace": hcl(plan.workspace) if plan.workspace is not None else None,
        "workspace_id": _workspace_id(plan),
        "workspace_local_name": hcl_ident(WORKSPACE_ID_LOCAL),
        "workspace_local": hcl_ref(f"local.{WORKSPACE_ID_LOCAL}"),
        "external_id_local_name": hcl_ident(EXTERNAL_ID_LOCAL),
        "name": hcl(plan.name),
        "description": hcl(f"AWS Batch environment {r.name}, its queues and roles managed by Terraform (towergen)"),
        "role": plan.role,
        "role_arn": hcl(plan.role_arn) if plan.role_arn else None,
        "labels": labels,
        "label_ids": hcl_list([Hcl(f"seqera_labels.{label_resource(n)}.label_id") for n, _ in plan.labels]),
        "config": config_arguments(r, fields),
        "depends_on": hcl_list([hcl_ref(d) for d in depends]),
    }


def _workspace_id(plan: PlatformPlan) -> Hcl:
    if plan.workspace_id is not None:
        return hcl(plan.workspace_id)
    return hcl_ref("data.seqera_workspace.this.id")
