"""Benchmark: the render path as a user runs it, through the command line (not a test).

    .venv/bin/python bench/cli_times.py                  # this working tree
    .venv/bin/python bench/cli_times.py a07fcf2 HEAD     # git revisions, side by side

For each towergen (the working tree, or each git revision checked out into a temporary
worktree and run with ``python -m towergen`` from there), in a fresh temporary folder, the
median wall-clock seconds of ``--repeat`` runs (default 7) of:

  one       towergen render examples/spot.yaml -o OUT -q         (into an empty folder)
  fleet     towergen render <1,000 files> -o OUT -q              (into an empty folder)
  check     towergen render --check <1,000 files> -o OUT -q      (OUT up to date)

The 1,000 files are examples/*.yaml under distinct names and buckets (``render_fleet.fleet``).
Targets (issue 13): one under 0.25 s, fleet under 2.5 s, check under 2 s. The figures depend on
the machine and its load: the load average is printed first; compare revisions in one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from render_fleet import fleet  # noqa: E402

TARGETS = {"one": 0.25, "fleet": 2.5, "check": 2.0}


def _timed(argv: list[str], env: dict[str, str], repeat: int, before=None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode not in (0,):
            raise SystemExit(f"{' '.join(argv[:4])} ... exited {done.returncode}:\n{done.stderr[-2000:]}")
    return statistics.median(times)


def measure(source: Path, tmp: Path, files: list[Path], repeat: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(source))
    cli = [sys.executable, "-m", "towergen", "render"]
    out = tmp / "out"

    def empty() -> None:
        shutil.rmtree(out, ignore_errors=True)

    one = _timed([*cli, str(ROOT / "examples" / "spot.yaml"), "-o", str(out), "-q"], env, repeat, empty)
    many = [str(p) for p in files]
    fleet_s = _timed([*cli, *many, "-o", str(out), "-q"], env, max(1, repeat // 2), empty)
    subprocess.run([*cli, *many, "-o", str(out), "-q"], env=env, check=True, capture_output=True)
    check = _timed([*cli, "--check", *many, "-o", str(out), "-q"], env, max(1, repeat // 2))
    return {"one": one, "fleet": fleet_s, "check": check}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revisions", nargs="*", help="git revisions to compare (default: the working tree)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("-n", type=int, default=1000, help="environments in the fleet")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; median of {args.repeat} runs (fleet: of {max(1, args.repeat // 2)})")
    with tempfile.TemporaryDirectory(prefix="towergen-bench-") as tmp_name:
        tmp = Path(tmp_name)
        files = fleet(tmp / "envs", args.n)
        rows = []
        for rev in args.revisions or [None]:
            if rev is None:
                source, label = ROOT, "working tree"
            else:
                source = tmp / f"rev-{len(rows)}"
                subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(source), rev], check=True)
                label = rev
            try:
                rows.append((label, measure(source, tmp / f"run-{len(rows)}", files, args.repeat)))
            finally:
                if rev is not None:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source)], check=False)
        print(f"{'towergen':<16}" + "".join(f"{k + f' (< {v} s)':>18}" for k, v in TARGETS.items()))
        for label, figures in rows:
            print(f"{label:<16}" + "".join(f"{figures[k]:>16.2f} s" for k in TARGETS))


if __name__ == "__main__":
    main()
