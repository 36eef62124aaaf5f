"""Benchmark: the render path as a user runs it, through the command line (not a test).

    .venv/bin/python bench/cli_times.py                  # this working tree
    .venv/bin/python bench/cli_times.py a07fcf2 HEAD     # git revisions, side by side

For each towergen (the working tree, or each git revision checked out into a temporary
worktree and run with ``python -m towergen`` from there), in a fresh temporary folder, the
median wall-clock seconds of ``--repeat`` runs (default 7) of:

  one       towergen render examples/spot.yaml -o OUT -q         (into an empty folder)
  fleet     towergen render <1,000 files> -o OUT -q              (into an empty folder)
  check     towergen render --check <1,000 files> -o OUT -q      (OUT up to date)

and, without a target, the same ``one`` and ``fleet`` on a machine where towergen never ran:

  one-cold, fleet-cold   with an empty cache folder (XDG_CACHE_HOME), so that every rendered
                         file is parsed back by python-hcl2 (loading its parser costs ~0.15 s)

The 1,000 files are examples/*.yaml under distinct names and buckets (``render_fleet.fleet``), the
examples of the revision measured (an older towergen refuses keys added since).
Targets (issue 13): one under 0.25 s, fleet under 2.5 s, check under 2 s. towergen runs as an
installed package does: with its bytecode written (``PYTHONDONTWRITEBYTECODE`` is dropped, and
each revision runs once before it is timed). The figures depend on the machine and its load: the
load average is printed first; compare revisions in one run.
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
COLUMNS = {**TARGETS, "one-cold": None, "fleet-cold": None}


def _timed(argv: list[str], env: dict[str, str], repeat: int, before=None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=env["BENCH_CWD"], capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode not in (0,):
            raise SystemExit(f"{' '.join(argv[:4])} ... exited {done.returncode}:\n{done.stderr[-2000:]}")
    return statistics.median(times)


def measure(source: Path, tmp: Path, n: int, repeat: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # run from a folder of its own: `python -m` puts the current folder first on sys.path, and from
    # the repository that would be the working tree's towergen whatever PYTHONPATH says
    tmp.mkdir(parents=True, exist_ok=True)
    env.update(PYTHONPATH=str(source), XDG_CACHE_HOME=str(tmp / "cache"), BENCH_CWD=str(tmp))
    cli = [sys.executable, "-m", "towergen", "render"]
    out = tmp / "out"
    # each towergen renders the examples of its own revision (an older one refuses newer keys)
    files = fleet(tmp / "envs", n, source / "examples")
    one_argv = [*cli, str(source / "examples" / "spot.yaml"), "-o", str(out), "-q"]
    many = [str(p) for p in files]
    fleet_argv = [*cli, *many, "-o", str(out), "-q"]
    colds = iter(range(1_000_000))

    def empty() -> None:
        shutil.rmtree(out, ignore_errors=True)

    def cold() -> None:
        empty()
        env["XDG_CACHE_HOME"] = str(tmp / f"cold-{next(colds)}")

    imported = subprocess.run([sys.executable, "-c", "import towergen; print(towergen.__file__)"], env=env, cwd=tmp,
                              check=True, capture_output=True, text=True).stdout.strip()
    if not Path(imported).resolve().is_relative_to(source.resolve()):
        raise SystemExit(f"the towergen measured for {source} would be {imported}")
    subprocess.run(one_argv, env=env, cwd=tmp, check=True, capture_output=True)  # bytecode written, as installed
    one = _timed(one_argv, env, repeat, empty)
    empty()
    subprocess.run(fleet_argv, env=env, cwd=tmp, check=True, capture_output=True)  # the cache knows the fleet
    fleet_s = _timed(fleet_argv, env, max(1, repeat // 2), empty)
    check = _timed([*cli, "--check", *many, "-o", str(out), "-q"], env, max(1, repeat // 2))
    one_cold = _timed(one_argv, env, repeat, cold)
    fleet_cold = _timed(fleet_argv, env, max(1, repeat // 2), cold)
    return {"one": one, "fleet": fleet_s, "check": check, "one-cold": one_cold, "fleet-cold": fleet_cold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revisions", nargs="*", help="git revisions to compare (default: the working tree)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("-n", type=int, default=1000, help="environments in the fleet")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; median of {args.repeat} runs (fleet: of {max(1, args.repeat // 2)})")
    with tempfile.TemporaryDirectory(prefix="towergen-bench-") as tmp_name:
        tmp = Path(tmp_name)
        rows = []
        for rev in args.revisions or [None]:
            if rev is None:
                source, label = ROOT, "working tree"
            else:
                source = tmp / f"rev-{len(rows)}"
                subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(source), rev], check=True)
                label = rev
            try:
                rows.append((label, measure(source, tmp / f"run-{len(rows)}", args.n, args.repeat)))
            finally:
                if rev is not None:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source)], check=False)
        print(f"{'towergen':<16}" + "".join(f"{k + (f' (< {v} s)' if v else ''):>18}" for k, v in COLUMNS.items()))
        for label, figures in rows:
            print(f"{label:<16}" + "".join(f"{figures[k]:>16.2f} s" for k in COLUMNS))


if __name__ == "__main__":
    main()
