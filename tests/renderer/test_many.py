"""Many environment files at once: a process pool that renders exactly what one process does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT
from towergen.errors import SpecError
from towergen.renderer import environment as render_env
from towergen.renderer import many as build


def minimal(name, extra=""):
    return f"version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://{name}-bucket/work\n{extra}"


def _fleet(tmp_path: Path, n: int) -> list[Path]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from render_fleet import fleet
    finally:
        sys.path.pop(0)
    return fleet(tmp_path / "envs", n)


def test_parallel_render_is_the_serial_render(tmp_path):
    paths = _fleet(tmp_path, 12)
    loaded1, files1 = build.render_many(paths, jobs=1)
    loaded2, files2 = build.render_many(paths, jobs=2)
    assert files1 == files2
    assert [x.env.name for x in loaded1] == [x.env.name for x in loaded2]


def test_parallel_render_reports_every_problem(tmp_path):
    paths = _fleet(tmp_path, 6)
    paths[1].write_text(paths[1].read_text().replace("version: 1", "version: 7"))
    paths[4].write_text(minimal("modules"))
    paths[5].write_text(paths[0].read_text())
    with pytest.raises(SpecError) as caught:
        build.render_many(paths, jobs=2)
    assert sorted((Path(p.file).name, p.path) for p in caught.value.problems) == [
        ("env-0001.yaml", "version"), ("env-0004.yaml", "name"), ("env-0005.yaml", "name"), ("env-0005.yaml", "work_dir")]


def test_parallel_render_refuses_output_that_does_not_parse(tmp_path, monkeypatch):
    from towergen.errors import RenderError

    paths = _fleet(tmp_path, 4)
    real = build.render_environment

    def broken(loaded):
        files = real(loaded)
        files["main.tf"] += "locals {\n"
        return files

    monkeypatch.setattr(build, "render_environment", broken)
    with pytest.raises(RenderError, match="main.tf"):
        build.render_many(paths, jobs=2)


def test_cached_formatting_is_the_formatter(tmp_path, monkeypatch):
    from towergen.renderer.hclfmt import format_hcl

    seen = []
    real = render_env.format_hcl_cached
    monkeypatch.setattr(render_env, "format_hcl_cached", lambda text: seen.append(text) or real(text))
    build.render_many([*EXAMPLES, *_fleet(tmp_path, 5)], jobs=1)
    assert len(seen) >= 40
    for text in seen + ["# a\n# b\n\n\nx = 1\n", "# only a comment\n", "# a\nx = 1\n", "#(\nx = 1\n"]:
        assert real(text) == format_hcl(text)


def test_benchmark_script_runs(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "render_fleet.py"), "3"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].split()[0] == "3"
