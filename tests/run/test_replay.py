"""The runner against a fake Terraform that replays what a real one printed: exit codes, progress, and output that is no result."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import towergen
from conftest import calls, example
from towergen.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, app
from towergen.errors import TowergenError

runner = CliRunner()


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
    # a command that writes says where
    assert f"towergen render: {example('manual')} into {tmp_path}/infra/manual-eu-west-2 (" in result.stdout
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


# --- a real account is asked before it is changed ---------------------------------------------------


def _rendered_manual(tmp_path) -> str:
    out = tmp_path / "infra"
    towergen.render([example("manual")], out)
    return str(out / "manual-eu-west-2")


@pytest.mark.parametrize("command", ["apply", "destroy"])
def test_without_a_terminal_or_auto_approve_aws_is_not_changed(fake, tmp_path, command):
    root = _rendered_manual(tmp_path)
    log = fake()
    result = invoke(command, root, "--target", "aws")
    assert result.exit_code == EXIT_ERROR
    assert "refusing to change a real AWS account without a question" in result.stderr and "--auto-approve" in result.stderr
    assert not log.exists(), "Terraform was not even initialised"


def test_auto_approve_applies_exactly_the_plan_it_showed(fake, tmp_path):
    root = _rendered_manual(tmp_path)
    log = fake(*(f"approve/{n}" for n in ("00-init", "01-plan", "02-show", "03-apply")))
    result = invoke("apply", root, "--target", "aws", "--auto-approve")
    assert result.exit_code == EXIT_OK, result.output
    assert "Terraform will perform the following actions" in result.stdout and "approved by --auto-approve" in result.stdout
    argv = calls(log)
    review = f"-out={root}/.terraform/towergen-apply.tfplan"
    assert argv[1][0] == "plan" and review in argv[1] and "-detailed-exitcode" in argv[1]
    assert argv[2][0] == "show"
    assert argv[3][0] == "apply" and argv[3][-1] == review.removeprefix("-out=") and "-auto-approve" not in argv[3]
    assert not (tmp_path / "infra" / "manual-eu-west-2" / ".terraform" / "towergen-apply.tfplan").exists()


def test_a_person_who_says_no_changes_nothing(fake, tmp_path):
    root = _rendered_manual(tmp_path)
    log = fake(*(f"approve/{n}" for n in ("00-init", "01-plan", "02-show")))
    questions: list[str] = []

    def no(question: str) -> bool:
        questions.append(question)
        return False

    with pytest.raises(TowergenError, match="the answer was no; nothing was changed"):
        towergen.apply(root, target="aws", echo=lambda line: None, confirm=no)
    assert [a[0] for a in calls(log)] == ["init", "plan", "show"]
    assert questions and "to add" in questions[0] and questions[0].endswith("Go ahead?")


def test_destroy_plans_the_destroy_shows_it_and_applies_it_when_approved(fake, tmp_path):
    root = _rendered_manual(tmp_path)
    log = fake(*(f"approve/{n}" for n in ("04-init", "05-destroy", "06-show", "07-apply")))
    lines: list[str] = []
    outcome = towergen.destroy(root, target="aws", echo=lines.append, confirm=lambda question: True)
    assert outcome.exit_code == 0 and outcome.summary.get("remove", 0) > 0, "\n".join(lines)
    argv = calls(log)
    assert argv[1][0] == "plan" and "-destroy" in argv[1]
    assert argv[3][0] == "apply" and argv[3][-1].endswith("towergen-destroy.tfplan")
