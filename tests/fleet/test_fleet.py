"""Several environments side by side: the summary table, the exit codes, the bound on running children."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import towergen
from conftest import example
from towergen.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), prog_name="towergen")


def _two_environments(tmp_path) -> list[str]:
    text = example("manual").read_text()
    second = tmp_path / "manual-two.yaml"
    second.write_text(text.replace("name: manual-eu-west-2", "name: manual-two"))
    out = tmp_path / "infra"
    towergen.render([example("manual"), second], out)
    return [str(out / "manual-eu-west-2"), str(out / "manual-two")]


def test_fleet_plan_summarises_and_exits_2_when_any_has_changes(fake, tmp_path):
    roots = _two_environments(tmp_path)
    fake("savedplan/00-init", "savedplan/01-plan", "savedplan/02-show", "savedplan/05-init", "savedplan/06-plan")
    report = tmp_path / "report.json"
    result = invoke("plan", *roots, "--target", "aws", "--jobs", "1", "--json-report", str(report))
    assert result.exit_code == EXIT_CHANGES, result.output
    # each environment is said as it starts and as it ends, before its output
    assert f"--> {roots[0]}: plan started" in result.output and f"<-- {roots[1]}: plan ended (exit 0" in result.output
    table = result.output.splitlines()[-3:]
    assert table[0].split() == ["environment", "result", "time"]
    assert table[1].startswith("manual-eu-west-2") and "11 to add, 0 to change, 0 to destroy" in table[1]
    assert table[2].startswith("manual-two") and "no changes" in table[2]
    data = json.loads(report.read_text())
    assert [(d["environment"], d["exit_code"]) for d in data] == [("manual-eu-west-2", 2), ("manual-two", 0)]


def test_fleet_plan_exits_1_when_any_fails(fake, tmp_path):
    roots = _two_environments(tmp_path)
    fake("failing/00-init", "failing/01-plan", "savedplan/05-init", "savedplan/06-plan")
    result = invoke("plan", *roots, "--target", "aws", "--jobs", "1")
    assert result.exit_code == EXIT_ERROR, result.output
    assert "FAILED" in result.output.splitlines()[-2]


def test_fleet_runs_side_by_side_but_bounded(tmp_path, monkeypatch):
    """--jobs 2 over three environments: two plans at a time, never three. A stand-in Terraform
    records when each plan starts and ends (and says "no changes" as Terraform does)."""
    log = tmp_path / "intervals.log"
    fake_tf = tmp_path / "terraform"
    fake_tf.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys, time\n"
        "command = next(a for a in sys.argv[1:] if not a.startswith('-'))\n"
        "if command == 'init':\n"
        "    os.makedirs('.terraform', exist_ok=True)\n"
        "    sys.exit(0)\n"
        f"log = {str(log)!r}\n"
        "start = time.time()\n"
        # wait for a second plan to start (a loaded machine starts children seconds apart), at
        # most 60 s: with --jobs 2 one always comes, and a third would show up here too
        f"starts = {str(tmp_path / 'starts.log')!r}\n"
        "open(starts, 'a').write('x')\n"
        "while len(open(starts).read()) < 2 and time.time() - start < 60:\n"
        "    time.sleep(0.05)\n"
        "time.sleep(0.5)\n"
        "print(json.dumps({'type': 'change_summary', 'changes': {'add': 0, 'change': 0, 'remove': 0}}))\n"
        "with open(log, 'a') as fh:\n"
        "    fh.write(f'{start} {time.time()}\\n')\n"
    )
    fake_tf.chmod(0o755)
    monkeypatch.setenv("TOWERGEN_TERRAFORM", str(fake_tf))
    monkeypatch.delenv("TOWERGEN_PLUGIN_MIRROR", raising=False)
    text = example("manual").read_text()
    files = [example("manual")]
    for name in ("manual-two", "manual-three"):
        files.append(tmp_path / f"{name}.yaml")
        files[-1].write_text(text.replace("name: manual-eu-west-2", f"name: {name}"))
    out = tmp_path / "infra"
    towergen.render(files, out)
    roots = [str(out / n) for n in ("manual-eu-west-2", "manual-two", "manual-three")]
    result = invoke("plan", *roots, "--target", "aws", "--jobs", "2")
    assert result.exit_code == EXIT_OK, result.output
    intervals = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    assert len(intervals) == 3
    most = max(sum(1 for s, e in intervals if s <= t < e) for t, _ in intervals)
    assert most == 2, intervals
    assert result.output.count("no changes") >= 3


def test_a_source_that_looks_like_an_option_reaches_its_child(fake, tmp_path, monkeypatch):
    """`plan ./-dash.yaml other.yaml`: each child gets its source in a typed request, never as
    an argument a command line could read as an option."""
    monkeypatch.chdir(tmp_path)
    dash = tmp_path / "-dash.yaml"
    dash.write_text(example("manual").read_text().replace("name: manual-eu-west-2", "name: dash"))
    other = tmp_path / "other.yaml"
    other.write_text(example("manual").read_text().replace("name: manual-eu-west-2", "name: other"))
    fake("savedplan/05-init", "savedplan/06-plan", "savedplan/05-init", "savedplan/06-plan")
    # pathlib makes ./-dash.yaml "-dash.yaml": once passed on to a child as an argument, it was
    # read as the option -d
    result = invoke("plan", "./-dash.yaml", "other.yaml", "--target", "aws", "--jobs", "1")
    assert result.exit_code == EXIT_OK, result.output
    assert "No such option" not in result.output and (tmp_path / "infra" / "dash" / "main.tf").exists()


def test_two_sources_of_one_environment_are_refused_before_any_child_runs(fake, tmp_path):
    roots = _two_environments(tmp_path)
    log = fake()
    result = invoke("plan", roots[0], roots[0], "--target", "aws")
    assert result.exit_code == EXIT_ERROR and "both run the environment manual-eu-west-2" in result.stderr
    result = invoke("smoke", str(example("manual")), roots[0])
    assert result.exit_code == EXIT_ERROR and "both run the environment manual-eu-west-2" in result.stderr
    assert not log.exists()
