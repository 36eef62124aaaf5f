"""towergen smoke against a fake Terraform that replays real runs: every way it can fail."""

from __future__ import annotations

import towergen
from conftest import calls, example


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
    # each phase says what it does as it starts (the long ones wait on the provider)
    banners = [line.split(":")[0] for line in text.splitlines() if line.startswith("== ")]
    assert banners == ["== init", "== apply", "== destroy"], banners
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
    """dispose: false with nothing towergen creates to protect (an existing file system, an
    existing bucket) renders no guard, so smoke must not expect a refusal."""
    env = tmp_path / "env.yaml"
    env.write_text(
        "version: 1\nname: fsx-existing\nregion: eu-west-1\nwork_dir: s3://fsx-existing-work/work\n"
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
