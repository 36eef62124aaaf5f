"""Running Terraform on a target: the exact argv and environment, workspaces, LocalStack checks."""

from __future__ import annotations

import http.server
import json
import stat
import threading

import pytest
from typer.testing import CliRunner

import towergen
from conftest import emulator_for, example, workspace
from towergen.cli import EXIT_USAGE, app
from towergen.errors import EmulatorError, TerraformError, TowergenError
from towergen.run.emulator import OVERRIDE_FILE
from towergen.run.runner import argv_for
from towergen.run.targets.localstack import (
    check_localstack,
    localstack_endpoint,
    services_needed,
)
from towergen.run.terraform import Terraform, find_binary

SPOT = example("spot")


def test_argv_for_each_command():
    assert argv_for("init") == ["init", "-input=false", "-no-color"]
    assert argv_for("plan") == ["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode"]
    assert argv_for("apply") == ["apply", "-input=false", "-no-color", "-json", "-auto-approve"]
    assert argv_for("destroy") == ["apply", "-destroy", "-input=false", "-no-color", "-json", "-auto-approve"]


def test_plugin_mirror_goes_to_init_only(tmp_path):
    tf = Terraform("/bin/terraform", tmp_path, {})
    assert tf.argv("init", "-input=false") == ["/bin/terraform", "init", "-input=false", f"-plugin-dir={tmp_path}"]
    assert tf.argv("plan", "-json") == ["/bin/terraform", "plan", "-json"]
    assert Terraform("/bin/terraform", None, {}).argv("init") == ["/bin/terraform", "init"]


def test_environment_per_target(tmp_path):
    user = {"PATH": "/usr/bin", "AWS_PROFILE": "prod", "AWS_ACCESS_KEY_ID": "AKIA", "TF_CLI_CONFIG_FILE": str(tmp_path / "missing")}
    tf = Terraform("/bin/terraform", None, user)
    with workspace(SPOT, "local") as ws:
        env = tf.environment(ws.terraform_env())
    assert env == {"PATH": "/usr/bin", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "AWS_EC2_METADATA_DISABLED": "true"}
    with workspace(SPOT, "localstack", endpoint="http://127.0.0.1:4566") as ws:
        assert tf.environment(ws.terraform_env()) == env, "localstack runs with the same environment as local"
    out = tmp_path / "infra"
    with workspace(SPOT, "aws", out=out) as ws:
        env = tf.environment(ws.terraform_env())
        assert ws.root == out / "spot-eu-west-1"
    assert env == {"PATH": "/usr/bin", "AWS_PROFILE": "prod", "AWS_ACCESS_KEY_ID": "AKIA", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
    (tmp_path / "rc").write_text("")
    kept = Terraform("/bin/terraform", None, {"TF_CLI_CONFIG_FILE": str(tmp_path / "rc")}).environment()
    assert kept["TF_CLI_CONFIG_FILE"] == str(tmp_path / "rc"), "the user's CLI configuration is honoured"


def test_emulator_workspace_copies_only_generated_files(tmp_path):
    out = tmp_path / "infra"
    towergen.render([SPOT], out)
    env_dir = out / "spot-eu-west-1"
    (env_dir / "backend.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
    (env_dir / "terraform.tfstate").write_text("{}")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with workspace(env_dir, "local") as ws:
        assert ws.root != env_dir and ws.name == "spot-eu-west-1"
        assert not (ws.root / "backend.tf").exists() and not (ws.root / "terraform.tfstate").exists()
        assert (ws.root / "main.tf").read_bytes() == (env_dir / "main.tf").read_bytes()
        assert (ws.root.parent / "modules" / "compute" / "main.tf").exists()
        with emulator_for(ws) as endpoint:
            assert endpoint.startswith("http://127.0.0.1:")
            assert f'"{endpoint}"' in (ws.root / OVERRIDE_FILE).read_text()
        scratch = ws.root.parent
    assert not scratch.exists(), "the workspace is removed"
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before, "the output tree is untouched"


def test_localstack_endpoint_and_state_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("LOCALSTACK_HOST", "ls.internal:4599")
    assert localstack_endpoint() == "http://ls.internal:4599"
    assert localstack_endpoint("http://other:1/") == "http://other:1"
    monkeypatch.delenv("LOCALSTACK_HOST")
    assert localstack_endpoint() == "http://localhost:4566"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with workspace(SPOT, "localstack", endpoint="http://127.0.0.1:4566") as ws:
        assert ws.target.state_cache(ws) == tmp_path / "cache" / "towergen" / "localstack" / "127.0.0.1_4566" / "spot-eu-west-1"
        (ws.root / "terraform.tfstate").write_text('{"serial": 7}')
    assert (ws.target.state_cache(ws) / "terraform.tfstate").read_text() == '{"serial": 7}'
    with workspace(SPOT, "localstack", endpoint="http://127.0.0.1:4566") as again:
        assert (again.root / "terraform.tfstate").read_text() == '{"serial": 7}', "LocalStack state survives a run"


class _Health(http.server.BaseHTTPRequestHandler):
    body: bytes = b""
    code = 200

    def do_GET(self):
        self.send_response(self.code)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def health_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_localstack_community_is_refused_with_the_reason(health_server):
    community = {"services": dict.fromkeys(("s3", "iam", "sts", "ec2", "ssm"), "available") | {"batch": "disabled"}}
    _Health.code, _Health.body = 200, json.dumps(community).encode()
    endpoint = f"http://127.0.0.1:{health_server.server_port}"
    loaded = towergen.load(example("fsx"))
    with pytest.raises(EmulatorError) as err:
        check_localstack(endpoint, services_needed(loaded.resolved, "apply"))
    message = str(err.value)
    assert "does not provide batch, fsx" in message and "501" in message and "paid plan" in message
    check_localstack(endpoint, services_needed(loaded.resolved, "plan"))  # a plan needs no Batch here
    _Health.code, _Health.body = 404, b""
    check_localstack(endpoint, ["batch"])  # not LocalStack: an emulator speaking the AWS protocol


def test_localstack_not_running():
    with pytest.raises(EmulatorError, match="no LocalStack answers at http://127.0.0.1:9"):
        check_localstack("http://127.0.0.1:9", ["s3"])


def test_finding_terraform(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TerraformError, match="install Terraform"):
        find_binary({"PATH": str(empty)})
    tofu = tmp_path / "bin" / "tofu"
    tofu.parent.mkdir()
    tofu.write_text("#!/bin/sh\n")
    tofu.chmod(tofu.stat().st_mode | stat.S_IEXEC)
    assert find_binary({"PATH": str(tofu.parent)}) == str(tofu)
    assert find_binary({"PATH": str(empty), "TOWERGEN_TERRAFORM": str(tofu)}) == str(tofu)
    with pytest.raises(TerraformError, match="TOWERGEN_TERRAFORM"):
        find_binary({"PATH": str(empty), "TOWERGEN_TERRAFORM": str(tmp_path / "nope")})


def test_bad_target_is_a_usage_error():
    result = CliRunner().invoke(app, ["plan", str(SPOT), "--target", "gcp"], prog_name="towergen")
    assert result.exit_code == EXIT_USAGE
    assert "'gcp' is not one of 'local', 'localstack', 'aws'" in result.stderr
    result = CliRunner().invoke(app, ["smoke", str(SPOT), "--target", "aws"], prog_name="towergen")
    assert result.exit_code == EXIT_USAGE
    assert "'aws' is not one of 'local', 'localstack'" in result.stderr


def test_missing_plugin_mirror(tmp_path):
    result = CliRunner().invoke(app, ["plan", str(SPOT), "--plugin-mirror", str(tmp_path / "no")], prog_name="towergen")
    assert result.exit_code == 1
    assert "is not a folder" in result.stderr


def test_no_terraform_gives_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("TOWERGEN_TERRAFORM", raising=False)
    result = CliRunner().invoke(app, ["plan", str(SPOT)], prog_name="towergen")
    assert result.exit_code == 1
    assert "neither terraform nor tofu is on PATH" in result.stderr and "developer.hashicorp.com" in result.stderr


def test_destroy_on_the_embedded_emulator_is_refused():
    """destroy names its target: never AWS by default. The embedded emulator is not a choice
    (it keeps nothing), and the library says why when asked for it."""
    result = CliRunner().invoke(app, ["destroy", str(SPOT)], prog_name="towergen")
    assert result.exit_code == EXIT_USAGE and "--target" in result.stderr
    result = CliRunner().invoke(app, ["destroy", str(SPOT), "--target", "local"], prog_name="towergen")
    assert result.exit_code == EXIT_USAGE and "'localstack', 'aws'" in result.stderr
    with pytest.raises(TowergenError, match="nothing to destroy on the embedded emulator"):
        towergen.destroy(SPOT, target="local")


def test_aws_plan_is_saved_and_applied(tmp_path):
    with workspace(SPOT, "aws", out=tmp_path / "infra") as ws:
        plan_file = ws.plan_file
        assert plan_file == tmp_path / "infra" / "spot-eu-west-1" / ".terraform" / "towergen.tfplan"
    assert argv_for("plan", plan_file=plan_file)[-1] == f"-out={plan_file}"
    assert argv_for("apply", plan_file=plan_file) == ["apply", "-input=false", "-no-color", "-json", str(plan_file)]
    with workspace(SPOT, "local") as ws:
        assert ws.plan_file is None, "emulator runs keep no plan"


def test_progress_lines_from_terraform_json():
    from towergen.run.progress import JsonProgress, Outcome

    lines: list[str] = []
    outcome = Outcome("apply", 1, 0.0)
    progress = JsonProgress(lines.append, outcome)
    res = {"addr": "module.compute.aws_batch_job_queue.work"}
    events = [
        {"type": "apply_start", "hook": {"resource": res, "action": "create"}},
        {"type": "apply_progress", "hook": {"resource": res, "action": "create", "elapsed_seconds": 10}},
        {"type": "apply_progress", "hook": {"resource": res, "action": "create", "elapsed_seconds": 30}},
        {"type": "apply_complete", "hook": {"resource": res, "action": "create", "elapsed_seconds": 31}},
        {"type": "apply_start", "hook": {"resource": {"addr": "data.aws_vpc.default"}, "action": "read"}},
        {"type": "resource_drift", "change": {"resource": {"addr": "module.iam.aws_iam_role.instance[0]"}}},
        {"type": "change_summary", "changes": {"add": 1, "change": 0, "remove": 0}},
        {"type": "diagnostic", "diagnostic": {"severity": "error", "summary": "creating Batch Job Queue",
                                              "detail": "AccessDenied\nsecond line", "address": "module.x"}},
    ]
    for event in events:
        progress(json.dumps(event))
    progress("not json at all")
    assert lines == [
        "  creating   module.compute.aws_batch_job_queue.work",
        "  ...        module.compute.aws_batch_job_queue.work: still creating (30 s)",
        "  created    module.compute.aws_batch_job_queue.work (31 s)",
        "Error: creating Batch Job Queue\n  with module.x\n  AccessDenied\n  second line",
        "  not json at all",
    ]
    assert outcome.summary == {"add": 1, "change": 0, "remove": 0}
    assert outcome.refreshed == 1
    assert outcome.diagnostics == ["Error: creating Batch Job Queue\n  with module.x\n  AccessDenied\n  second line"]


def test_an_offline_init_says_how_to_use_a_provider_mirror(tmp_path, monkeypatch):
    """terraform init without the registry: one line names the mirror this machine has, or how
    to give one (Terraform's own words stay above it)."""
    from towergen.run import terraform as tf

    offline = "Error: Failed to query available provider packages\n\nCould not retrieve the list of available versions"
    mirror = tmp_path / "mirror"
    (mirror / tf.AWS_IN_MIRROR).mkdir(parents=True)
    monkeypatch.setattr(tf, "MIRROR_PLACES", (str(tmp_path / "none"), str(mirror)))
    assert tf.init_hint(offline, None) == (
        f"hint: terraform could not reach the registry; this machine has a provider mirror at {mirror}: "
        f"run again with --plugin-mirror {mirror} (or TOWERGEN_PLUGIN_MIRROR={mirror})"
    )
    assert tf.init_hint(offline, mirror) is None, "with a mirror in use the registry was not the problem"
    assert tf.init_hint("Error: Unsupported argument", None) is None
    monkeypatch.setattr(tf, "MIRROR_PLACES", (str(tmp_path / "none"),))
    assert "--plugin-mirror DIR" in tf.init_hint(offline, None)
