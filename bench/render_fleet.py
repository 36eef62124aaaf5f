"""Benchmark: render and check a fleet of N environments (not a test; prints timings).

    .venv/bin/python bench/render_fleet.py 100 1000

Each environment is one of examples/*.yaml under a distinct name (and a distinct bucket), so
no two environments render the same files. For each N it times, in a fresh temporary folder:
  load      reading and validating the N files
  render    towergen.render into an empty folder (everything created)
  again     towergen.render again (everything identical)
  check     towergen.render(check=True) (writes nothing; the CI gate)
Each figure is wall-clock seconds, then (in brackets) the CPU seconds it used in all processes
(user + system, towergen's workers included): on a machine shared with other work the wall clock
depends on the load (printed first), the CPU seconds much less.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import towergen  # noqa: E402
from towergen.loader.fleet import load_all  # noqa: E402


def fleet(folder: Path, n: int, examples_dir: Path = ROOT / "examples") -> list[Path]:
    """N environment files generated from the examples, with distinct names and buckets."""
    examples = sorted(examples_dir.glob("*.yaml"))
    texts = [p.read_text(encoding="utf-8") for p in examples]
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        text = texts[i % len(texts)]
        text = re.sub(r"^name: (\S+)", lambda m, i=i: f"name: f{i:04d}-{m.group(1)}"[:31].rstrip("-"), text, count=1, flags=re.M)
        text = re.sub(r"s3://([a-z0-9.-]+)", lambda m, i=i: f"s3://f{i:04d}-{m.group(1)}"[:68], text)
        path = folder / f"env-{i:04d}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(label: str, fn, results: dict) -> object:
    start, cpu = time.perf_counter(), _cpu()
    value = fn()
    results[label] = (time.perf_counter() - start, _cpu() - cpu)
    return value


def bench(n: int) -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="towergen-bench-") as tmp:
        envs = fleet(Path(tmp) / "envs", n)
        out = Path(tmp) / "infra"
        timed("load", lambda: load_all(envs), results)
        first = timed("render", lambda: towergen.render(envs, out), results)
        assert {c.action for c in first.changes} == {"create"}, "a fresh render creates every file"
        again = timed("again", lambda: towergen.render(envs, out), results)
        assert {c.action for c in again.changes} == {"identical"}
        check = timed("check", lambda: towergen.render(envs, out, check=True), results)
        assert not check.differs
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000])
    args = parser.parse_args()
    print(f"towergen {towergen.__version__}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f}")
    labels = ("load", "render", "again", "check")
    print(f"{'N':>6}" + "".join(f"  {label:>13}" for label in labels) + "   seconds: wall (CPU)")
    for n in args.sizes:
        r = bench(n)
        print(f"{n:>6}" + "".join(f"  {r[k][0]:6.2f} ({r[k][1]:4.1f})" for k in labels))


if __name__ == "__main__":
    main()
