"""The command line through Typer's CliRunner: exit codes, stdout and stderr."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import towergen
from conftest import example
from towergen.cli import EXIT_ERROR, EXIT_USAGE, app

runner = CliRunner()
SPOT = str(example("spot"))


def invoke(*args: str):
    return runner.invoke(app, list(args), prog_name="towergen")


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"towergen {towergen.__version__}\n"


@pytest.mark.parametrize("command", [[], ["render"], ["validate"], ["schema"], ["plan"], ["apply"], ["destroy"], ["smoke"]])
def test_help_everywhere(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: towergen" in result.stdout


def test_render_summarises_and_lists_files_with_verbose(tmp_path):
    out = tmp_path / "infra"
    quiet = invoke("render", SPOT, "-o", str(tmp_path / "summary"))
    assert quiet.exit_code == 0 and len(quiet.stdout.splitlines()) == 1, quiet.stdout
    first = invoke("render", SPOT, "-o", str(out), "-v")
    assert first.exit_code == 0, first.stderr
    assert f"   create  {out}/spot-eu-west-1/main.tf" in first.stdout
    assert first.stdout.splitlines()[-1].startswith(f"rendered 1 environment into {out}: ")
    assert first.stderr == ""  # a shipped example renders without a warning
    created = sum(line.startswith("   create  ") for line in first.stdout.splitlines())
    assert first.stdout.splitlines()[-1].endswith(f": {created} create")
    again = invoke("render", SPOT, "-o", str(out), "--quiet")
    assert again.exit_code == 0
    assert again.stdout.splitlines() == [f"rendered 1 environment into {out}: {created} identical"]


def test_render_bad_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nregion: mars-1\nwork_dir: s3://b-b-b\n")
    result = invoke("render", str(bad), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_ERROR
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {bad}:2:7: name: expected 2 to 31 characters")
    assert lines[1].startswith(f"error: {bad}:3:9: region: expected an AWS region code")
    assert lines[-1] == "towergen: 2 problems in 1 file; nothing was written"
    assert not (tmp_path / "out").exists()


def test_render_warning_goes_to_stderr(tmp_path):
    spec = tmp_path / "env.yaml"
    spec.write_text("version: 1\nname: warm\nregion: eu-west-1\nwork_dir: s3://b-b-b/work\naccount_id: '123456789012'\ncompute:\n  min_cpus: 4\n")
    result = invoke("render", str(spec), "-o", str(tmp_path / "out"), "-q")
    assert result.exit_code == 0
    assert result.stderr.startswith(f"warning: {spec}:7:3: compute.min_cpus: min_cpus is 4")


def test_missing_file(tmp_path):
    result = invoke("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == EXIT_ERROR
    assert "expected a readable file" in result.stderr


def test_validate_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", SPOT, str(example("manual")))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"ok  {SPOT}", f"ok  {example('manual')}"]
    assert list(tmp_path.iterdir()) == []


def test_schema_is_json_schema():
    result = invoke("schema")
    assert result.exit_code == 0
    environment = json.loads(result.stdout)["$defs"]["Environment"]
    assert environment["additionalProperties"] is False
    assert set(environment["required"]) == {"version", "name", "region", "work_dir"}
    assert "compute" in environment["properties"]


@pytest.mark.parametrize(
    "args",
    [["render", SPOT], ["render", "--bogus", SPOT, "-o", "x"], ["nope"], ["validate"]],
)
def test_usage_errors_exit_64(args):
    result = invoke(*args)
    assert result.exit_code == EXIT_USAGE
    assert "Usage:" in result.stderr


def test_each_command_offers_exactly_the_targets_that_accept_it():
    """The CLI's --target choices (kept in cli.py so that --help imports no run side) are the
    targets' own ``commands`` (towergen.run.targets)."""
    from towergen.cli import _TARGETS
    from towergen.run.targets import targets_for

    for command, offered in _TARGETS.items():
        assert list(offered) == targets_for(command), command


@pytest.mark.parametrize("command", [[], ["render"], ["validate"], ["changed"], ["schema"], ["plan"], ["apply"],
                                     ["destroy"], ["smoke"]])
def test_help_speaks_in_words_not_python(command):
    """Placeholders as FILE... and N, ranges in words, whole summaries, no Python type names."""
    text = invoke(*command, "--help").stdout
    for python in ("list[", "Path>", "<int", "<text", "str>", "{FILE", "<=x<=", "int range"):
        assert python not in text, (command, python, text)
    assert "..." not in text.replace("FILE...", "").replace("COMMAND [ARGS]...", "")
