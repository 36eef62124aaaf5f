"""The job roles' ARNs, which Terraform knows only after apply when the file has no account_id.

Without account_id towergen writes neither nextflow.config nor the platform file (without job
roles, jobs would run as the instance role). Their text is rendered with stand-ins for the ARNs
and becomes Terraform outputs, where each stand-in is the role's ARN as Terraform knows it; the
platform.tf config reads the same module outputs. '<' and '>' occur in no value an environment
file can hold (names, buckets, paths, tags, addresses), so the stand-ins are unique.
"""

from __future__ import annotations

from ..decide.resolved import Resolved

ROLE_ARN_STANDINS = {
    "head_job": "<towergen:head_job_role_arn>",
    "compute_job": "<towergen:compute_job_role_arn>",
    "execution": "<towergen:execution_role_arn>",
}
ROLE_ARN_REFERENCES = {
    "head_job": "module.iam.head_job_role_arn",
    "compute_job": "module.iam.compute_job_role_arn",
    "execution": "module.iam.execution_role_arn",
}
# each stand-in -> the Terraform reference that replaces it
REFERENCE_OF_STANDIN = {ROLE_ARN_STANDINS[actor]: ref for actor, ref in ROLE_ARN_REFERENCES.items()}


def job_role_arns(r: Resolved) -> dict[str, str]:
    """The roles' ARNs the two files name: the real ones (account_id), else the stand-ins (the
    execution role's only with pipeline secrets)."""
    if r.role_arns:
        return r.role_arns
    return {k: v for k, v in ROLE_ARN_STANDINS.items() if k != "execution" or r.execution_role}
