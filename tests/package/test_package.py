"""`pip install .` (not only -e) carries the templates and modules: a wheel built from this
checkout renders an example from a folder far from the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT, example


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (path,) = dist.glob("towergen-*.whl")
    return path


def test_wheel_carries_templates_and_modules(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("network", "iam", "storage", "compute", "fsx"):
        for part in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert f"towergen/modules/{module}/{part}" in names
    assert "towergen/templates/root/main.tf.j2" in names
    assert "towergen/templates/userdata/fsx.sh.j2" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_renders_from_anywhere(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = (
        "import towergen, sys; from pathlib import Path;"
        "assert Path(towergen.__file__).is_relative_to(sys.argv[1]), towergen.__file__;"
        "towergen.render([sys.argv[2]], 'out')"
    )
    subprocess.run([sys.executable, "-c", code, str(site), str(example("spot"))], cwd=work, env=env, check=True)
    rendered = work / "out"
    assert (rendered / "spot-eu-west-1" / "main.tf").read_bytes() == (ROOT / "tests" / "golden" / "spot-eu-west-1" / "main.tf").read_bytes()
    assert (rendered / "modules" / "compute" / "main.tf").exists()
