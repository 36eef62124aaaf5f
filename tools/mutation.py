"""Mutation run: plant one small mistake at a time (tools/mutation_mutants.py) in a copy of the
repository and run the default test tier against it; a mutant is caught when the tier fails.

    .venv/bin/python tools/mutation.py                 # every mutant, goldens regenerated, then kept
    .venv/bin/python tools/mutation.py --only guard-fsx hop-limit
    .venv/bin/python tools/mutation.py --check         # does every mutant still apply?
    .venv/bin/python tools/mutation.py --list

How it runs (issue 18):

1. The tracked and untracked files of this checkout (``git ls-files -co --exclude-standard``) are
   copied to a temporary folder; the tier runs there with ``PYTHONPATH`` set to the copy, so
   ``import towergen`` and every test read the copy, never this checkout. The unmutated copy
   must pass first (else the run stops: a failing tier catches everything).
2. Each mutant's edits are applied to the copy, ``tests/regenerate.py golden`` regenerates the
   golden trees *from the mutated code* (what a careless "regenerate the goldens" does), and the
   default tier runs: ``pytest -x -n 2 --dist load`` (the first failure ends it), under a time limit (a
   mutant that makes it hang counts as caught, and is reported as a timeout). Then the copy is
   restored.
3. A mutant that survives with regenerated goldens is run again with the committed goldens. Only
   the tests that read tests/golden/ can tell the two runs apart (tests/test_golden.py and
   tests/package/test_package.py, which compares one rendered file with its golden), and every
   other test has just passed on the same code, so only those two files run (``--full-kept``
   runs the whole tier instead).

So the score "with goldens" is what the default tier catches; the score "goldens regenerated" is
what it catches when the goldens cannot help. Nothing is written to this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from mutation_mutants import MUTANTS, Mutant  # noqa: E402

# The render path's tests first: with -x the first failure ends the run, so a mutant is usually
# caught in seconds; the rest of the tier follows in the order pytest would collect it.
FIRST = ["tests/spec", "tests/loader", "tests/decide", "tests/renderer", "tests/iam", "tests/modules", "tests/test_golden.py", "tests/output"]
GOLDEN_READERS = ["tests/test_golden.py", "tests/package/test_package.py"]


@dataclass
class Run:
    verdict: str  # caught | survived | timeout | error
    seconds: float
    failed: list[str] = field(default_factory=list)  # the failing tests pytest named


@dataclass
class Result:
    id: str
    kind: str
    what: str
    issue: bool
    regenerated: Run | None = None
    kept: Run | None = None


def check(mutants: tuple[Mutant, ...], root: Path = ROOT) -> list[str]:
    """Why each mutant that no longer applies does not (its ``old`` text is gone or repeated)."""
    out = []
    for mutant in mutants:
        texts: dict[str, str] = {}
        for file, old, new in mutant.edits:
            text = texts.get(file)
            if text is None:
                path = root / file
                text = path.read_text(encoding="utf-8") if path.exists() else ""
            count = text.count(old)
            if count != 1:
                out.append(f"{mutant.id}: {file}: the text to replace occurs {count} times")
            elif old == new:
                out.append(f"{mutant.id}: {file}: the replacement changes nothing")
            else:
                texts[file] = text.replace(old, new, 1)
    return out


def copy_checkout(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True)
    for rel in filter(None, listed.stdout.decode().split("\0")):
        src = ROOT / rel
        if src.is_file() and not src.is_symlink():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def test_paths(copy: Path) -> list[str]:
    rest = sorted(p.relative_to(copy).as_posix() for p in (copy / "tests").iterdir()
                  if (p.is_dir() and p.name not in ("golden", "bad", "fake_terraform", "__pycache__", "node_modules"))
                  or (p.is_file() and p.name.startswith("test_") and p.suffix == ".py"))
    return [p for p in FIRST if (copy / p).exists()] + [p for p in rest if p not in FIRST]


def run_tests(copy: Path, paths: list[str], env: dict[str, str], timeout: float, workers: int) -> Run:
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-o", "console_output_style=classic"]
    if workers > 1:
        # --dist load with small chunks: a worker holds only a few tests at a time, so the first
        # failure ends the run (worksteal hands each worker half the tier, which it finishes first)
        cmd += ["-n", str(workers), "--dist", "load", "--maxschedchunk", "2"]
    start = time.monotonic()
    proc = subprocess.Popen([*cmd, *paths], cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Run("timeout", time.monotonic() - start)
    seconds = time.monotonic() - start
    failed = [line.split(" ", 1)[1].split(" - ")[0] for line in out.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    if proc.returncode == 0:
        return Run("survived", seconds)
    if proc.returncode in (1, 2) and (failed or "failed" in out or "error" in out.lower()):
        return Run("caught", seconds, failed[:3])
    return Run("error", seconds, [out[-2000:]])


class Copy:
    """The temporary copy, with a mutant applied and taken back."""

    def __init__(self, root: Path):
        self.root = root
        self.saved: dict[str, str] = {}

    def apply(self, mutant: Mutant) -> None:
        for file, old, new in mutant.edits:
            path = self.root / file
            text = path.read_text(encoding="utf-8")
            self.saved.setdefault(file, text)
            assert text.count(old) == 1, f"{mutant.id}: {file}"
            path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def restore(self, golden: Path) -> None:
        for file, text in self.saved.items():
            (self.root / file).write_text(text, encoding="utf-8")
        self.saved.clear()
        shutil.rmtree(self.root / "tests" / "golden", ignore_errors=True)
        shutil.copytree(golden, self.root / "tests" / "golden")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="ID", help="run these mutants only")
    parser.add_argument("--kind", nargs="+", help="run the mutants of these kinds only")
    parser.add_argument("--check", action="store_true", help="check that every mutant applies, and stop")
    parser.add_argument("--list", action="store_true", help="list the mutants, and stop")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one tier run may take (default 900)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (default 2)")
    parser.add_argument("--full-kept", action="store_true", help="with the committed goldens, run the whole tier, not only the tests that read them")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    mutants = tuple(m for m in MUTANTS if (not args.only or m.id in args.only) and (not args.kind or m.kind in args.kind))
    if args.only and len(mutants) != len(set(args.only)):
        parser.error(f"unknown mutant: {sorted(set(args.only) - {m.id for m in MUTANTS})}")
    if args.list:
        for mt in mutants:
            print(f"{mt.id:24} {mt.kind:16} {'issue 18 ' if mt.issue else ''}{mt.what}")
        return 0
    stale = check(MUTANTS)
    if stale:
        print("mutants that no longer apply (fix them in tools/mutation_mutants.py):", *stale, sep="\n  ")
        return 1
    if args.check:
        print(f"all {len(MUTANTS)} mutants apply")
        return 0

    with tempfile.TemporaryDirectory(prefix="towergen-mutation-") as tmp:
        copy_root = Path(tmp) / "src"
        copy_checkout(copy_root)
        golden = Path(tmp) / "golden"
        shutil.copytree(copy_root / "tests" / "golden", golden)
        env = {**os.environ, "PYTHONPATH": str(copy_root), "XDG_CACHE_HOME": str(Path(tmp) / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
        probe = subprocess.run([sys.executable, "-c", "import towergen; print(towergen.__file__)"], cwd=copy_root, env=env,
                               capture_output=True, text=True, check=True)
        assert Path(probe.stdout.strip()).is_relative_to(copy_root), f"the copy is not what the tests import: {probe.stdout}"
        paths = test_paths(copy_root)
        print(f"copy: {copy_root}\ntier: pytest -x -n {args.workers} {' '.join(paths)}", flush=True)
        baseline = run_tests(copy_root, paths, env, args.timeout * 2, args.workers)
        print(f"baseline (no mutant): {baseline.verdict} in {baseline.seconds:.0f} s", flush=True)
        if baseline.verdict != "survived":
            print("the unmutated copy does not pass the tier: stopping", *baseline.failed, sep="\n")
            return 1

        results: list[Result] = []
        copy = Copy(copy_root)
        for i, mutant in enumerate(mutants, 1):
            result = Result(mutant.id, mutant.kind, mutant.what, mutant.issue)
            try:
                copy.apply(mutant)
                regen = subprocess.run([sys.executable, "tests/regenerate.py", "golden"], cwd=copy_root, env=env, capture_output=True,
                                       text=True, timeout=args.timeout)
                if regen.returncode != 0:  # the mutant breaks rendering the examples: the goldens stay as committed
                    copy.restore(golden)
                    copy.apply(mutant)
                result.regenerated = run_tests(copy_root, paths, env, args.timeout, args.workers)
                if result.regenerated.verdict == "survived":
                    copy.restore(golden)
                    copy.apply(mutant)
                    kept_paths = paths if args.full_kept else GOLDEN_READERS
                    result.kept = run_tests(copy_root, kept_paths, env, args.timeout, args.workers if args.full_kept else 1)
                else:
                    result.kept = Run(result.regenerated.verdict, 0.0, ["(as with regenerated goldens: no other test reads them)"])
            finally:
                copy.restore(golden)
            results.append(result)
            r, k = result.regenerated, result.kept
            print(f"[{i}/{len(mutants)}] {mutant.id:24} regenerated: {r.verdict:8} {r.seconds:5.0f} s   kept: {k.verdict:8}"
                  f"   {(r.failed or k.failed or [''])[0][:90]}", flush=True)
        report(results, baseline)
        if args.json:
            args.json.write_text(json.dumps({"baseline": asdict(baseline), "results": [asdict(r) for r in results]}, indent=2) + "\n")
    return 0


def caught(run: Run | None) -> bool:
    return run is not None and run.verdict in ("caught", "timeout")


def report(results: list[Result], baseline: Run) -> None:
    n = len(results)
    with_goldens = sum(caught(r.kept) for r in results)
    without = sum(caught(r.regenerated) for r in results)
    issue = [r for r in results if r.issue]
    print(f"\nbaseline tier: {baseline.seconds:.0f} s")
    print(f"caught with the committed goldens:   {with_goldens}/{n}")
    print(f"caught with goldens regenerated:     {without}/{n}")
    if issue:
        print(f"issue 18's mutants caught (regenerated goldens): {sum(caught(r.regenerated) for r in issue)}/{len(issue)}")
    errors = [r.id for r in results if r.regenerated and r.regenerated.verdict == "error"]
    if errors:
        print("runs that ended without a test result (see --json):", ", ".join(errors))
    survivors = [r for r in results if not caught(r.kept)]
    only_goldens = [r for r in results if caught(r.kept) and not caught(r.regenerated)]
    for title, group in (("survivors", survivors), ("caught only by the goldens", only_goldens)):
        if group:
            print(f"\n{title}:")
            for r in group:
                print(f"  {r.id:24} {r.kind:16} {r.what}")


if __name__ == "__main__":
    raise SystemExit(main())
