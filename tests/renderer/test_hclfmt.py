"""towergen's formatter lays HCL out exactly as terraform fmt does (checked with the real binary)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from towergen.renderer.escape import hcl_key, hcl_string
from towergen.renderer.hclfmt import format_hcl

pytestmark = pytest.mark.terraform

names = st.from_regex(r"[a-z][a-z0-9_]{0,14}", fullmatch=True)


keys = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs", "Cc")), min_size=1, max_size=12)


scalars = st.one_of(st.integers(-5, 10**6), st.booleans(), st.text(max_size=15))


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return hcl_string(v)


@st.composite
def blocks(draw) -> str:
    """A resource block as a template would print it: no alignment, arbitrary key widths,
    nested maps with quoted unicode keys, lists, blank lines and comments."""
    lines = ['resource "x" "y" {']
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["attr", "attr", "map", "list", "blank", "comment", "block"]))
        if kind == "attr":
            lines.append(f"{draw(names)}   =   {_value(draw(scalars))}")
        elif kind == "map":
            lines.append(f"{draw(names)} = {{")
            for k in draw(st.lists(keys, min_size=1, max_size=4, unique=True)):
                lines.append(f"{hcl_key(k)} = {_value(draw(scalars))}")
            lines.append("}")
        elif kind == "list":
            items = draw(st.lists(scalars, max_size=4))
            lines.append(f"{draw(names)} = [" + ", ".join(_value(i) for i in items) + "]")
        elif kind == "blank":
            lines.append("")
        elif kind == "comment":
            lines.append("# " + draw(st.from_regex(r"[a-z =]{0,20}", fullmatch=True)))
        else:
            lines.append(f"{draw(names)} {{")
            lines.append(f"{draw(names)} = {_value(draw(scalars))}")
            lines.append("}")
    lines.append("}")
    return "\n".join(lines) + "\n"


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(blocks(), min_size=25, max_size=25))
def test_formatter_matches_terraform_fmt(terraform, tmp_path_factory, documents):
    folder: Path = tmp_path_factory.mktemp("fmt")
    for i, doc in enumerate(documents):
        (folder / f"f{i}.tf").write_text(format_hcl(doc), encoding="utf-8")
    result = terraform.run("fmt", "-check", "-list=true", "-no-color", str(folder), cwd=folder, check=False)
    changed = [line for line in result.stdout.splitlines() if line.endswith(".tf")]
    assert not changed, "\n\n".join((folder / Path(c).name).read_text() for c in changed)
