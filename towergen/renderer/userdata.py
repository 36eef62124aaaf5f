"""The launch template's user data: a MIME multipart message for cloud-init, one shell part per
boot step (``towergen.decide.boot``), written as a Terraform template (``templatefile`` fills in
the names of a file system created in the same apply)."""

from __future__ import annotations

from typing import Any

from ..decide.artifacts import Artifact
from ..decide.boot import BootStep, Note, TemplateVar
from ..decide.resolved import Resolved
from ..errors import RenderError
from .escape import Comment, check_template, sh_tpl, tpl_var
from .files import USER_DATA_FILE
from .templating import render_template

MIME_BOUNDARY = "==towergen-user-data=="


def shell_value(value: Any) -> Any:
    """A step's plain value in the form its template prints: shell words inside a Terraform
    template, a comment, a templatefile variable, an artifact's fields, or a list of those."""
    if isinstance(value, Note):
        return Comment(value.text)
    if isinstance(value, TemplateVar):
        return tpl_var(value.name)
    if isinstance(value, Artifact):
        return {"name": sh_tpl(value.name), "url": sh_tpl(value.url), "sha256": sh_tpl(value.sha256)}
    if isinstance(value, (tuple, list)):
        return [shell_value(item) for item in value]
    return sh_tpl(value)


def step_script(step: BootStep) -> str:
    values: dict[str, Any] = {key: shell_value(value) for key, value in step.settings}
    return render_template("shell", f"userdata/{step.template}", **values)


def user_data(r: Resolved) -> str:
    lines = [
        f'Content-Type: multipart/mixed; boundary="{MIME_BOUNDARY}"',
        "MIME-Version: 1.0",
        "",
    ]
    for step in r.boot_steps:
        script = step_script(step)
        if MIME_BOUNDARY in script or not script.isascii():
            raise RenderError(f"{r.name}: user-data part {step.file} cannot be put in a MIME message")
        lines += [
            f"--{MIME_BOUNDARY}",
            'Content-Type: text/x-shellscript; charset="us-ascii"',
            "MIME-Version: 1.0",
            f'Content-Disposition: attachment; filename="{step.file}"',
            "",
            script.rstrip("\n"),
            "",
        ]
    lines.append(f"--{MIME_BOUNDARY}--")
    text = "\n".join(lines) + "\n"
    problem = check_template(text, set(r.user_data_vars))
    if problem:
        raise RenderError(f"{r.name}/{USER_DATA_FILE}: {problem}")
    return text

