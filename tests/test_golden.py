"""Every example's output, byte for byte (regenerate with `python tests/regenerate.py golden`)."""

from __future__ import annotations

from pathlib import Path

import towergen
from conftest import EXAMPLES, GOLDEN


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_golden_tree_matches(rendered_examples):
    """The environment folders; modules/ is checked against the source modules elsewhere, the
    manifest (its source paths depend on where the tree is) in test_fleet.py."""
    expected = _tree(GOLDEN)
    actual = {k: v for k, v in _tree(rendered_examples).items()
              if not k.startswith("modules/") and k != towergen.MANIFEST}
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name] == expected[name], f"{name} differs from tests/golden (python tests/regenerate.py golden)"


def test_every_example_is_in_the_golden_tree():
    names = {towergen.load(p).env.name for p in EXAMPLES}
    assert names <= {p.name for p in GOLDEN.iterdir() if p.is_dir()}


def test_rerender_is_byte_identical(tmp_path):
    first = towergen.render(EXAMPLES, tmp_path / "a")
    second = towergen.render(EXAMPLES, tmp_path / "a")
    assert {c.action for c in first.changes} == {"create"}
    assert {c.action for c in second.changes} == {"identical"}
    towergen.render(EXAMPLES, tmp_path / "b")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
