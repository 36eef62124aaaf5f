"""The runner against a fake Terraform that replays what a real one printed: exit codes, progress, and output that is no result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import towergen
from conftest import example
from towergen.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, app

FAKE = Path(__file__).parents[1] / "fake_terraform"


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


def test_plan_exit_codes(fake, tmp_path):
    out = tmp_path / "infra"
    towergen.render([example("manual")], out)
    root = str(out / "manual-eu-west-2")

    fake("savedplan/00-init", "savedplan/01-plan", "savedplan/02-show")
    result = invoke("plan", root, "--target", "aws")
    assert result.exit_code == EXIT_CHANGES, result.output
    assert "Terraform will perform the following actions" in result.output
    assert "plan: 7 to add, 0 to change, 0 to destroy" in result.output

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
