"""One environment's folder, rendered in memory: the root module's Terraform, the user-data,
the backend, nextflow.config and the platform's compute environment; and the Terraform modules
every root calls, copied beside the roots."""

from __future__ import annotations

import json

from ..decide.resolved import Resolved
from ..errors import RenderError
from ..paths import MODULES, modules_dir
from .apply_time import job_role_arns
from .escape import comment
from .files import BACKEND_FILE, NEXTFLOW_CONFIG, PLATFORM_JSON, PLATFORM_TF, ROOT_TEMPLATES, USER_DATA_FILE
from .hclfmt import HclFormatError, format_hcl
from .platform import platform_tf_values
from .templating import render_template
from .userdata import user_data
from .values import complete_file_output, compute_values, nextflow_values, platform_values


def render_environment(r: Resolved) -> dict[str, str]:
    """The files of one environment's folder, by name. nextflow.config and the platform file are
    written only when they can name the job roles (account_id); otherwise their complete text is
    in Terraform's outputs, with the ARNs Terraform created."""
    v = compute_values(r)
    header = [comment(line) for line in r.header]
    arns = job_role_arns(r)
    nextflow = render_template("groovy", "nextflow.config.j2", **{**nextflow_values(r, arns), "header": header})
    extra = render_template("groovy", "platform-nextflow.config.j2", **v.platform_nextflow) if v.platform_nextflow else None
    fields = platform_values(r, extra, arns)
    platform = json.dumps(fields, indent=2, ensure_ascii=False) + "\n"
    files: dict[str, str] = {}
    if r.role_arns is None:
        v.root["complete_files"] = {"platform": complete_file_output(platform), "nextflow": complete_file_output(nextflow)}
    else:
        files[NEXTFLOW_CONFIG] = nextflow
        files[PLATFORM_JSON] = platform
    for name in ROOT_TEMPLATES:
        text = render_template("hcl", f"root/{name}.j2", **{**v.root, "header": header})
        try:
            files[name] = format_hcl_cached(text)
        except HclFormatError as exc:
            raise RenderError(f"{r.name}/{name}: {exc}") from exc
    if r.boot_steps:
        files[USER_DATA_FILE] = user_data(r)
    if v.backend is not None:
        files[BACKEND_FILE] = format_hcl(render_template("hcl", f"root/{BACKEND_FILE}.j2", **{**v.backend, "header": header}))
    if r.platform is not None:
        # the same fields, registered by the seqera provider (renderer/platform.py)
        text = render_template("hcl", f"root/{PLATFORM_TF}.j2", **{**platform_tf_values(r, fields), "header": header})
        try:
            files[PLATFORM_TF] = format_hcl(text)
        except HclFormatError as exc:
            raise RenderError(f"{r.name}/{PLATFORM_TF}: {exc}") from exc
    return files


# The formatted text of each HCL body (a template's output below its header comment) this
# process has formatted: many environments share files that differ only in their header.
_FORMATTED: dict[str, str] = {}


def format_hcl_cached(text: str) -> str:
    """``format_hcl(text)``, formatting the body below the leading comment lines once per
    distinct body. The formatter works line by line and a top-level comment line leaves it in its
    initial state, so the result is the same (tests/render checks it on every example)."""
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


_MODULE_FILES: dict[str, str] = {}


def module_files() -> dict[str, str]:
    """The Terraform modules every environment's root calls, copied beside the roots (read once
    per process: they are towergen's own files, checked by its tests, not on every render)."""
    if not _MODULE_FILES:
        root = modules_dir()
        for module in MODULES:
            for path in sorted((root / module).iterdir()):
                if path.is_file() and (path.suffix == ".tf" or path.name == "README.md"):
                    _MODULE_FILES[f"modules/{module}/{path.name}"] = path.read_text(encoding="utf-8")
    return dict(_MODULE_FILES)
