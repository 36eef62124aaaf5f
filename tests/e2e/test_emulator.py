"""Real Terraform, real AWS provider, real moto: apply, check, re-plan, destroy.

Each test takes a few minutes (the provider's own waiters: ~55 s for a lifecycle rule, ~30 s
to create and ~60 s to delete a job queue), so they are independent and run in parallel under
pytest-xdist; `pytest -m "not emulator"` leaves them out.
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import towergen
from conftest import ROOT, example, make_manual_prerequisites, run
from towergen.cli import app
from towergen.loader.validate import load_file
from towergen.run.emulator import MotoServer

pytestmark = [pytest.mark.emulator, pytest.mark.terraform]


def test_smoke_seed_spot_example_through_the_cli():
    result = CliRunner().invoke(app, ["smoke", str(example("spot"))], prog_name="towergen")
    out = result.stdout
    assert result.exit_code == 0, out + result.stderr
    for phase in ("render", "init", "apply", "check", "re-plan", "destroy", "verify"):
        assert f"  {phase:<9} " in out, phase
    assert "no drift" in out and "nothing left" in out and "smoke passed in" in out
    assert "the launch template's user-data is the rendered user-data" not in out  # only failures are listed
    # the README's sample report is this run's, times aside
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sample = re.search(r"```text\n(smoke report for spot-eu-west-1.*?)```", readme, re.S).group(1)
    times = re.compile(r" +\d+(?:\.\d)? s\b")
    printed = out[out.index("smoke report for"):]
    assert times.sub(" T s", printed) == times.sub(" T s", sample), "README.md's smoke report is not what the run prints"


def test_smoke_fsx_example():
    lines: list[str] = []
    report = towergen.smoke(example("fsx"), echo=lines.append)
    assert report.ok, "\n".join(lines)
    assert [p.name for p in report.phases] == ["render", "init", "apply", "check", "re-plan", "destroy", "verify"]
    assert any("aws_fsx_lustre_file_system.this" in line and "created" in line for line in lines)


def test_smoke_dispose_false_refuses_destroy():
    lines: list[str] = []
    report = towergen.smoke(example("gpu-on-demand"), echo=lines.append)
    assert report.ok, "\n".join(lines)
    protect = next(p for p in report.phases if p.name == "protect")
    assert protect.ok and "refused" in protect.detail
    assert any("prevent_destroy" in line or "cannot be destroyed" in line for line in lines)


def test_manual_example_applies_on_existing_queues(tmp_path, monkeypatch):
    """The localstack target's wiring, against a moto server listening where LocalStack would
    (both speak the AWS wire protocol): apply manual mode on queues made first, then destroy
    with the state kept between the two runs."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    loaded = load_file(example("manual"))
    with MotoServer() as moto:
        make_manual_prerequisites(moto.endpoint, loaded.env)
        lines: list[str] = []
        applied = run(example("manual"), "apply", "localstack", lines.append, endpoint=moto.endpoint)
        assert applied.exit_code == 0, "\n".join(lines)
        assert applied.summary["add"] > 0
        assert applied.outputs["head_queue_name"] == "tower-head"
        assert applied.outputs["compute_queue_name"] == "tower-compute"
        assert applied.outputs["user_name"] == "manual-eu-west-2-tower"
        planned = run(example("manual"), "plan", "localstack", lines.append, endpoint=moto.endpoint)
        assert planned.exit_code == 0, "no drift: the state was kept between runs"
        destroyed = run(example("manual"), "destroy", "localstack", lines.append, endpoint=moto.endpoint)
        assert destroyed.exit_code == 0 and destroyed.summary["remove"] == applied.summary["add"]
        import boto3

        batch = boto3.client("batch", endpoint_url=moto.endpoint, region_name=loaded.env.region,
                             aws_access_key_id="k", aws_secret_access_key="s")
        queues = {q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"]}
        assert {"tower-head", "tower-compute"} <= queues, "manual mode never touches the existing queues"


def test_aws_target_applies_the_saved_plan(tmp_path):
    """The aws target runs plain Terraform in the rendered folder. Here that folder carries a
    provider override of its own (as a user's might) aimed at moto, so that the saved-plan
    path runs for real: plan shows the diff and saves it, apply applies exactly that plan."""
    from towergen import render
    from towergen.run.emulator import write_override

    loaded = load_file(example("manual"))
    out = tmp_path / "infra"
    render([example("manual")], out)
    root = out / loaded.env.name
    with MotoServer() as moto:
        make_manual_prerequisites(moto.endpoint, loaded.env)
        write_override(root, moto.endpoint)
        lines: list[str] = []
        planned = run(root, "plan", "aws", lines.append)
        assert planned.exit_code == 2, "\n".join(lines)
        text = "\n".join(lines)
        assert "Terraform will perform the following actions" in text and "saved the plan to" in text
        assert (root / ".terraform" / "towergen.tfplan").exists()
        lines.clear()
        applied = run(root, "apply", "aws", lines.append)
        assert applied.exit_code == 0, "\n".join(lines)
        assert any("applying the plan saved by towergen plan" in line for line in lines)
        assert not (root / ".terraform" / "towergen.tfplan").exists()
        assert run(root, "plan", "aws", lines.append).exit_code == 0
        assert (root / "terraform.tfstate").exists(), "the aws target keeps its state in the user's folder"


def test_aws_target_asks_then_applies_and_destroys_exactly_the_plan_it_showed(tmp_path):
    """On a real account, apply without a saved plan and destroy plan first, show the plan, and
    apply that plan file once approved (here --auto-approve; on a terminal a question). Moto
    stands in for the account through an override in the rendered folder, as above."""
    from towergen import render
    from towergen.run.emulator import write_override

    loaded = load_file(example("manual"))
    out = tmp_path / "infra"
    render([example("manual")], out)
    root = out / loaded.env.name
    with MotoServer() as moto:
        make_manual_prerequisites(moto.endpoint, loaded.env)
        write_override(root, moto.endpoint)
        lines: list[str] = []
        applied = towergen.apply(root, target="aws", echo=lines.append, auto_approve=True)
        text = "\n".join(lines)
        assert applied.exit_code == 0, text
        assert "Terraform will perform the following actions" in text and "approved by --auto-approve" in text
        assert not list((root / ".terraform").glob("towergen-*.tfplan")), "the reviewed plan is removed"
        lines.clear()
        destroyed = towergen.destroy(root, target="aws", echo=lines.append, auto_approve=True)
        text = "\n".join(lines)
        assert destroyed.exit_code == 0, text
        assert destroyed.summary.get("remove", 0) > 0 and "will be destroyed" in text
