"""The runner, smoke and the CLI's exit codes against a fake Terraform that replays what a real
Terraform printed (``tests/fake_terraform/``; streams recorded by ``python tests/regenerate.py
streams`` from Terraform 1.11 and the AWS provider 5.100 on the embedded emulator).

These run in about a second each: they cover the paths that the slow emulator tier takes only
when something goes wrong (a failed apply, drift, a failed destroy), the plan exit codes, the
saved-plan flow on the aws target, and a Terraform whose output is not what it should be.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import towergen
from conftest import example
from towergen.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, app

FAKE = Path(__file__).parent / "fake_terraform"
STREAMS = FAKE / "streams"
runner = CliRunner()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Use the fake Terraform; ``fake(*recordings)`` sets the calls it will answer, in order, and
    returns the log of the calls it got."""
    monkeypatch.setenv("TOWERGEN_TERRAFORM", str(FAKE / "terraform"))
    monkeypatch.delenv("TOWERGEN_PLUGIN_MIRROR", raising=False)
    log = tmp_path / "fake-terraform.log"
    monkeypatch.setenv("FAKE_TF_LOG", str(log))

    def scenario(*recordings: str) -> Path:
        log.unlink(missing_ok=True)
        monkeypatch.setenv("FAKE_TF_SCENARIO", ":".join(str(STREAMS / r) for r in recordings))
        return log

    return scenario


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def invoke(*args: str):
    return runner.invoke(app, list(args), prog_name="towergen")


# --- plan, apply and their exit codes -------------------------------------------------------------


def test_plan_exit_codes(fake, tmp_path):
    out = tmp_path / "infra"
    towergen.render([example("manual")], out)
    root = str(out / "manual-eu-west-2")

    fake("savedplan/00-init", "savedplan/01-plan", "savedplan/02-show")
    result = invoke("plan", root, "--target", "aws")
    assert result.exit_code == EXIT_CHANGES, result.output
    assert "Terraform will perform the following actions" in result.output
    assert "plan: 11 to add, 0 to change, 0 to destroy" in result.output

    fake("savedplan/05-init", "savedplan/06-plan")
    result = invoke("plan", root, "--target", "aws")
    assert result.exit_code == EXIT_OK, result.output
    assert "plan: no changes" in result.output

    fake("failing/00-init", "failing/01-plan")
    result = invoke("plan", root, "--target", "aws")
    assert result.exit_code == EXIT_ERROR, result.output
    assert "Error: " in result.output and "plan failed" in result.output


def test_plan_from_a_file_with_the_default_relative_output_folder(fake, tmp_path, monkeypatch):
    """`towergen plan env.yaml --target aws` renders into ./infra and saves the plan inside it
    (the plan path was once given relative to the wrong folder: "Failed to write plan file")."""
    monkeypatch.chdir(tmp_path)
    log = fake("savedplan/00-init", "savedplan/01-plan", "savedplan/02-show")
    result = invoke("plan", str(example("manual")), "--target", "aws")
    assert result.exit_code == EXIT_CHANGES, result.output
    saved = tmp_path / "infra" / "manual-eu-west-2" / ".terraform" / "towergen.tfplan"
    assert saved.is_file()
    plan_argv = calls(log)[1]
    assert f"-out={saved}" in plan_argv
    assert calls(log)[2][-1] == str(saved), "show reads the same plan file"

    log = fake("savedplan/03-init", "savedplan/04-apply")
    result = invoke("apply", str(example("manual")), "--target", "aws")
    assert result.exit_code == EXIT_OK, result.output
    assert calls(log)[1][-1] == str(saved), "apply applies exactly the saved plan"
    assert "applying the plan saved by towergen plan" in result.output
    assert not saved.exists(), "an applied plan is removed"


def test_a_terraform_that_prints_nothing_is_no_result(tmp_path, monkeypatch):
    """/bin/true as Terraform exits 0 and says nothing: that is not "no changes"."""
    monkeypatch.setenv("TOWERGEN_TERRAFORM", "/bin/true")
    out = tmp_path / "infra"
    towergen.render([example("manual")], out)
    result = invoke("plan", str(out / "manual-eu-west-2"), "--target", "aws")
    assert result.exit_code == EXIT_ERROR, result.output
    assert "ended without its change summary" in result.output
    assert "no changes" not in result.output


def test_json_that_is_not_an_event_is_text(fake, tmp_path):
    """Lines that are JSON but not an object (a list, a string, a number), and a summary whose
    changes are not a mapping: shown as text, no traceback, and no result without a summary."""
    out = tmp_path / "infra"
    towergen.render([example("manual")], out)
    fake("savedplan/00-init", "hostile/01-plan")
    result = invoke("plan", str(out / "manual-eu-west-2"), "--target", "aws")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == EXIT_ERROR, result.output
    assert '["a", "list"]' in result.output and "ended without its change summary" in result.output


# --- smoke: every way it can fail ----------------------------------------------------------------


def _smoke(name: str):
    lines: list[str] = []
    report = towergen.smoke(example(name), echo=lines.append)
    return report, "\n".join(lines)


def test_smoke_failed_apply_still_destroys(fake):
    log = fake("spot/00-init", "failing/03-apply", "spot/03-destroy")
    report, text = _smoke("spot")
    assert not report.ok
    assert [(p.name, p.ok) for p in report.phases] == [("render", True), ("init", True), ("apply", False), ("destroy", True)]
    assert any("Error:" in f for f in report.failures), report.failures
    assert [c[0] for c in calls(log)] == ["init", "apply", "apply"], "the failed apply is torn down"
    assert "smoke FAILED" in text


def test_smoke_reports_drift(fake):
    fake("spot/00-init", "spot/01-apply", "savedplan/01-plan", "spot/03-destroy")
    report, _ = _smoke("spot")
    assert not report.ok
    replan = next(p for p in report.phases if p.name == "re-plan")
    assert not replan.ok and replan.detail == "DRIFT"
    assert any("drift" in f for f in report.failures)


def test_smoke_reports_a_failed_destroy_and_stops(fake):
    fake("spot/00-init", "spot/01-apply", "spot/02-plan", "dispose/03-destroy")
    report, _ = _smoke("spot")
    assert not report.ok
    assert [p.name for p in report.phases][-1] == "destroy" and not report.phases[-1].ok
    assert any("prevent_destroy" in f or "cannot be destroyed" in f for f in report.failures)


def test_smoke_checks_the_objects_against_the_resolved_environment(fake):
    """The apply "succeeds" (a replayed stream) but the emulator holds nothing: the check phase
    must notice, naming what is missing."""
    fake("spot/00-init", "spot/01-apply", "spot/02-plan", "spot/03-destroy")
    report, _ = _smoke("spot")
    check = next(p for p in report.phases if p.name == "check")
    assert not check.ok
    assert any("job queue spot-eu-west-1-work exists" in f for f in report.failures)
    assert any("bucket unique-tower-bucket exists" in f for f in report.failures)


def test_smoke_dispose_false_expects_a_refused_destroy(fake):
    log = fake(*(f"dispose/{n}" for n in ("00-init", "01-apply", "02-plan", "03-destroy", "04-state", "05-destroy")))
    report, _ = _smoke("gpu-on-demand")
    protect = next(p for p in report.phases if p.name == "protect")
    assert protect.ok and "work bucket" in protect.detail
    assert calls(log)[4][:3] == ["state", "rm", "terraform_data.protect"]
    assert next(p for p in report.phases if p.name == "destroy").ok


def test_smoke_without_a_guard_expects_destroy_to_work(fake, tmp_path):
    """dispose: false with nothing towergen creates to protect (an existing file system, the work
    directory on it) renders no guard, so smoke must not expect a refusal."""
    env = tmp_path / "env.yaml"
    env.write_text(
        "version: 1\nname: fsx-existing\nregion: eu-west-1\nwork_dir: /fsx/work\n"
        "storage:\n  create_bucket: false\ncompute:\n  dispose: false\n  ebs_autoscale: false\n"
        "fsx:\n  dns_name: fs-0123456789abcdef0.fsx.eu-west-1.amazonaws.com\n  mount_name: abcdefgh\n"
    )
    loaded = towergen.load(env)
    assert loaded.resolved.guarded == ()
    files, _ = towergen.check([env])
    assert "terraform_data" not in files["fsx-existing/main.tf"]
    log = fake("spot/00-init", "spot/01-apply", "spot/02-plan", "spot/03-destroy")
    report = towergen.smoke(env, echo=lambda line: None)
    assert "protect" not in [p.name for p in report.phases]
    assert [c[0] for c in calls(log)] == ["init", "apply", "plan", "apply"]


# --- several environments ------------------------------------------------------------------------


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


def test_smoke_of_a_rendered_folder_reads_the_file_its_manifest_records(fake, tmp_path):
    """CI smokes what it rendered (OUT/<name>); the checks need the environment file, which the
    output tree's manifest records."""
    out = tmp_path / "infra"
    towergen.render([example("spot")], out)
    fake("spot/00-init", "spot/01-apply", "spot/02-plan", "spot/03-destroy")
    report = towergen.smoke(out / "spot-eu-west-1", echo=lambda line: None)
    assert report.environment == "spot-eu-west-1"
    assert [p.name for p in report.phases][:3] == ["render", "init", "apply"]
    assert any("job queue spot-eu-west-1-work exists" in f for f in report.failures), "checked against the file"


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
        "time.sleep(1.5)\n"
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
