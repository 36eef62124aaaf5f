"""Regenerate the expected outputs the tests compare against.

    python tests/regenerate.py            # both
    python tests/regenerate.py golden     # tests/golden/: every example rendered together
    python tests/regenerate.py bad        # tests/bad/*.txt: the messages for each bad file
    python tests/regenerate.py module-docs  # the Inputs/Outputs tables of modules/*/README.md
    python tests/regenerate.py docs       # the key reference in docs/environment-file.md
    python tests/regenerate.py streams    # tests/fake_terraform/streams/: real Terraform's output
                                          # (slow: applies on the emulator; not part of "all")

Review the diff before committing it: a changed golden file is a changed product.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import towergen  # noqa: E402
from towergen.cli import app  # noqa: E402

EXAMPLES = sorted((HERE.parent / "examples").glob("*.yaml"))
GOLDEN = HERE / "golden"
BAD = HERE / "bad"


def bad_messages(path: Path) -> str:
    """What `towergen validate <name>.yaml` prints on stderr, run from tests/bad/. A case about
    several files names the others on its first line: ``# validated with: bases/x.yaml``."""
    import os

    from typer.testing import CliRunner

    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    others = first.removeprefix("# validated with:").split() if first.startswith("# validated with:") else []
    cwd = os.getcwd()
    os.chdir(BAD)
    try:
        result = CliRunner().invoke(app, ["validate", *others, path.name])
    finally:
        os.chdir(cwd)
    return f"exit {result.exit_code}\n{result.stderr}"


def golden() -> None:
    """Every example's environment folder. The modules/ folder of the output tree is left out:
    it is modules/ copied byte for byte (tests/test_render.py checks that), and so is the
    manifest (its source paths depend on where the tree is)."""
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    towergen.render(EXAMPLES, GOLDEN)
    shutil.rmtree(GOLDEN / "modules")
    (GOLDEN / towergen.MANIFEST).unlink()
    print(f"wrote {GOLDEN}")


def streams(only: str = "") -> None:
    """Record what the real Terraform prints for the scenarios the replay tests replay
    (``streams`` for all, ``streams=approve,spot`` for some)."""
    import os
    import subprocess

    fake = HERE / "fake_terraform"
    python = sys.executable
    towergen_cli = [python, "-m", "towergen"]
    emulator = [python, "-m", "pytest", "-q", "-n", "0", "-m", "emulator", str(HERE / "e2e" / "test_emulator.py"), "-k"]
    scenarios = {
        "spot": [emulator + ["seed_spot"]],
        "dispose": [emulator + ["dispose"]],
        "savedplan": [emulator + ["saved_plan"]],
        "approve": [emulator + ["asks_then_applies"]],
        "failing": [towergen_cli + ["plan", "examples/manual.yaml"], towergen_cli + ["apply", "examples/manual.yaml"]],
    }
    real = shutil.which(os.environ.get("TOWERGEN_TERRAFORM") or "terraform")
    for name, commands in scenarios.items():
        if only and name not in only.split(","):
            continue
        folder = fake / "streams" / name
        shutil.rmtree(folder, ignore_errors=True)
        env = {**os.environ, "TOWERGEN_TERRAFORM": str(fake / "record.py"), "REAL_TERRAFORM": real, "RECORD_DIR": str(folder)}
        for command in commands:
            subprocess.run(command, cwd=HERE.parent, env=env, check=False)
        print(f"recorded {len(list(folder.glob('*.code')))} calls in {folder}")


def docs() -> None:
    from towergen.spec.reference import splice

    path = HERE.parent / "docs" / "environment-file.md"
    path.write_text(splice(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {path}")


def bad() -> None:
    for path in sorted(BAD.glob("*.yaml")):
        path.with_suffix(".txt").write_text(bad_messages(path), encoding="utf-8")
    print(f"wrote {len(list(BAD.glob('*.txt')))} files in {BAD}")


def _blocks(text: str, kind: str) -> list[tuple[str, str]]:
    """(name, body) of each top-level ``kind "name" { ... }`` block, in file order."""
    import re

    found = []
    for match in re.finditer(rf'^{kind} "([^"]+)" {{\n', text, re.M):
        depth, i = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        found.append((match.group(1), text[match.end() : i - 1]))
    return found


def _attribute(body: str, name: str) -> str | None:
    """The source text of a top-level attribute of a block body, on one line."""
    import re

    match = re.search(rf"^  {name}\s*=\s*", body, re.M)
    if not match:
        return None
    i, depth, out = match.end(), 0, []
    while i < len(body):
        ch = body[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "\n" and depth == 0:
            break
        out.append(ch)
        i += 1
    lines = [" ".join(line.split()) for line in "".join(out).split("\n") if line.strip()]
    joined = lines[0] if lines else ""
    for line in lines[1:]:
        # a line break between two object attributes separates them like a comma
        if not joined.endswith(("{", "(", "[", ",")) and not line.startswith(("}", ")", "]")):
            joined += ","
        joined += " " + line
    return joined.replace("( ", "(").replace(" )", ")").replace("[ ", "[").replace(" ]", "]")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def module_tables(module_dir: Path) -> str:
    import json

    rows = ["## Inputs", "", "| Name | Type | Default | Description |", "|------|------|---------|-------------|"]
    for name, body in _blocks((module_dir / "variables.tf").read_text(), "variable"):
        default = _attribute(body, "default")
        description = json.loads(_attribute(body, "description"))
        type_ = _attribute(body, "type")
        shown_default = f"`{default}`" if default is not None else "required"
        rows.append(f"| `{name}` | `{type_}` | {shown_default} | {_cell(description)} |")
    rows += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    for name, body in _blocks((module_dir / "outputs.tf").read_text(), "output"):
        description = json.loads(_attribute(body, "description"))
        sensitive = " Sensitive." if _attribute(body, "sensitive") == "true" else ""
        rows.append(f"| `{name}` | {_cell(description)}{sensitive} |")
    return "\n".join(rows) + "\n"


def module_readme(module_dir: Path) -> str:
    """The module's README with its Inputs and Outputs tables made from its .tf files."""
    text = (module_dir / "README.md").read_text(encoding="utf-8")
    start = text.index("## Inputs")
    end = text.index("## Requirements")
    return text[:start] + module_tables(module_dir) + "\n" + text[end:]


def gitops() -> None:
    """The gitops example's copy of modules/state-bucket (its bootstrap works on its own)."""
    copy = HERE.parent / "examples" / "gitops" / "bootstrap" / "state-bucket"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(HERE.parent / "modules" / "state-bucket", copy)
    print(f"wrote {copy}")


def module_docs() -> None:
    for module_dir in sorted((HERE.parent / "modules").iterdir()):
        if (module_dir / "README.md").exists():
            (module_dir / "README.md").write_text(module_readme(module_dir), encoding="utf-8")
    print("wrote the Inputs and Outputs tables of modules/*/README.md")


if __name__ == "__main__":
    which = sys.argv[1:] or ["module-docs", "gitops", "docs", "golden", "bad"]
    for name in which:
        name, _, arg = name.partition("=")
        jobs = {"golden": golden, "bad": bad, "module-docs": module_docs, "gitops": gitops, "docs": docs, "streams": streams}
        jobs[name](arg) if arg else jobs[name]()
