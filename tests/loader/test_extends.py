"""extends: an environment file over a chain of base files (issue 9's shared defaults)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import towergen
from towergen.cli import app
from towergen.errors import SpecError
from towergen.loader.extends import repository_of
from towergen.loader.validate import load_file
from towergen.spec.schema import file_schema


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A repository (it has a .git) with the files of one organisation; messages name files
    relative to it (the current folder)."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


def at(src, loc, key=True) -> tuple[str, int, int]:
    mark = src.locate(loc, key=key)
    return mark.file, mark.line, mark.column


def problems(path: str) -> list[str]:
    with pytest.raises(SpecError) as err:
        load_file(path)
    return [str(p) for p in err.value.problems]


ORG = """\
version: 1
region: eu-west-1
tags:
  team: genomics
  cost: c-1
compute:
  max_cpus: 32
  instance_types: [m6i, c6i]
  network:
    vpc_id: vpc-12345678
    subnet_ids: [subnet-12345678, subnet-87654321]
"""


def test_merge_semantics(repo):
    write(repo / "org.yaml", ORG)
    write(repo / "env.yaml", """\
extends: org.yaml
name: env-a
work_dir: s3://bucket-a/work
tags:
  cost: c-2
compute:
  instance_types: [r6i]
  network:
    subnet_ids: [subnet-11111111]
""")
    loaded = load_file("env.yaml")
    env = loaded.env
    assert env.tags == {"team": "genomics", "cost": "c-2"}  # mappings merge key by key
    assert env.compute.max_cpus == 32  # kept from the base
    assert env.compute.instance_types == ["r6i"]  # lists are replaced, not appended
    assert env.compute.network.vpc_id == "vpc-12345678"  # deep: two levels down
    assert env.compute.network.subnet_ids == ["subnet-11111111"]
    assert "extends" not in loaded.source.data
    assert loaded.source.files == ["env.yaml", "org.yaml"]
    # every value keeps the file and line where it was written
    src = loaded.source
    assert at(src, ("tags", "team")) == ("org.yaml", 4, 3) and at(src, ("tags", "cost")) == ("env.yaml", 5, 3)
    assert at(src, ("compute", "network", "vpc_id")) == ("org.yaml", 10, 5)
    assert at(src, ("compute", "network", "subnet_ids", 0), False) == ("env.yaml", 9, 18)
    assert at(src, ("compute",)) == ("env.yaml", 6, 1)


def test_null_in_the_child_replaces_a_base_section(repo):
    write(repo / "org.yaml", ORG + "fsx:\n  mount_path: /fsx\n  create:\n    storage_gib: 1200\n")
    write(repo / "env.yaml", "extends: org.yaml\nname: env-a\nwork_dir: s3://bucket-a/work\nfsx:\n")
    assert load_file("env.yaml").env.fsx is None


def test_three_level_chain(repo):
    write(repo / "org.yaml", ORG)
    write(repo / "teams/genomics.yaml", "extends: ../org.yaml\ncompute:\n  max_cpus: 64\n  min_cpus: 2\n")
    write(repo / "teams/envs/a.yaml", "extends: ../genomics.yaml\nname: env-a\nwork_dir: s3://bucket-a/work\ncompute:\n  min_cpus: 4\n")
    loaded = load_file("teams/envs/a.yaml")
    c = loaded.env.compute
    assert (c.max_cpus, c.min_cpus, c.instance_types) == (64, 4, ["m6i", "c6i"])
    assert loaded.source.files == ["teams/envs/a.yaml", "teams/genomics.yaml", "org.yaml"]
    src = loaded.source
    assert at(src, ("compute", "max_cpus")) == ("teams/genomics.yaml", 3, 3)
    assert at(src, ("compute", "min_cpus")) == ("teams/envs/a.yaml", 5, 3)
    assert at(src, ("compute", "instance_types")) == ("org.yaml", 8, 3)


def test_two_files_share_a_base_and_render(repo, tmp_path):
    write(repo / "org.yaml", ORG)
    for name in ("env-a", "env-b"):
        write(repo / f"{name}.yaml", f"extends: org.yaml\nname: {name}\nwork_dir: s3://bucket-{name}/work\n")
    files, _ = towergen.check(["env-a.yaml", "env-b.yaml"])
    assert "env-a/main.tf" in files and "env-b/main.tf" in files


def test_a_broken_base_shared_by_two_files_is_reported_once(repo):
    write(repo / "org.yaml", ORG.replace("max_cpus: 32", "max_cpus: -1"))
    for name in ("env-a", "env-b"):
        write(repo / f"{name}.yaml", f"extends: org.yaml\nname: {name}\nwork_dir: s3://bucket-{name}/work\n")
    with pytest.raises(SpecError) as err:
        towergen.check(["env-a.yaml", "env-b.yaml"])
    assert [str(p) for p in err.value.problems] == ["org.yaml:7:13: compute.max_cpus: expected a whole number from 1 to 100000, found -1"]


@pytest.mark.parametrize(
    "files, first, message",
    [
        ({"a.yaml": "extends: a.yaml\n"}, "a.yaml", "a.yaml:1:10: extends: expected a chain of extends without a cycle, found a.yaml -> a.yaml"),
        (
            {"a.yaml": "extends: b/b.yaml\n", "b/b.yaml": "extends: ../c.yaml\n", "c.yaml": "extends: ./a.yaml\n"},
            "a.yaml",
            "c.yaml:1:10: extends: expected a chain of extends without a cycle, found a.yaml -> b/b.yaml -> c.yaml -> a.yaml",
        ),
    ],
    ids=["self", "three"],
)
def test_cycles_are_refused_with_the_chain(repo, files, first, message):
    for name, text in files.items():
        write(repo / name, text + "name: env-a\n")
    assert problems(first) == [message]


def test_a_missing_base(repo):
    write(repo / "envs/a.yaml", "name: env-a\nextends: ../shared/nope.yaml\n")
    assert problems("envs/a.yaml") == [
        'envs/a.yaml:2:10: extends: expected the path of an existing file (relative to this file), found "../shared/nope.yaml": there is no shared/nope.yaml'
    ]


def test_a_base_outside_the_repository(repo, tmp_path):
    write(tmp_path / "outside.yaml", ORG)
    write(repo / "envs/a.yaml", "extends: ../../outside.yaml\nname: env-a\n")
    assert problems("envs/a.yaml") == [
        'envs/a.yaml:1:10: extends: expected a base file inside the repository (.: the git repository, or outside git the current folder), found "../../outside.yaml", which leads outside it'
    ]


def test_a_symbolic_link_out_of_the_repository_is_refused(repo, tmp_path):
    write(tmp_path / "outside.yaml", ORG)
    os.symlink(tmp_path / "outside.yaml", repo / "org.yaml")
    write(repo / "a.yaml", "extends: org.yaml\nname: env-a\n")
    assert "which leads outside it" in problems("a.yaml")[0]


def test_without_git_the_current_folder_is_the_boundary(tmp_path, monkeypatch):
    """A tarball or a copied folder has no .git: the folder towergen runs in is the boundary."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "shared/org.yaml", ORG)
    write(tmp_path / "envs/a.yaml", "extends: ../shared/org.yaml\nname: env-a\nwork_dir: s3://bucket-a/work\n")
    assert repository_of("envs/a.yaml") == tmp_path.resolve()
    assert load_file("envs/a.yaml").env.compute.max_cpus == 32
    monkeypatch.chdir(tmp_path / "envs")  # run from below the base: it is outside
    assert problems("a.yaml") == [
        'a.yaml:1:10: extends: expected a base file inside the repository (.: the git repository, or outside '
        'git the current folder), found "../shared/org.yaml", which leads outside it'
    ]


@pytest.mark.parametrize(
    "value, message",
    [
        ("[a.yaml, b.yaml]", "expected the path of a base file, relative to this file (such as ../base.yaml), found a list of 2 items"),
        ('""', 'expected the path of a base file, relative to this file (such as ../base.yaml), found ""'),
        ("", "expected the path of a base file, relative to this file (such as ../base.yaml), found null"),
        ("/etc/passwd", 'expected a path relative to this file (so the repository can move), found the absolute path "/etc/passwd"'),
        (".", "expected a regular file, found a folder (.)"),
    ],
)
def test_extends_values_that_are_not_a_relative_path(repo, value, message):
    write(repo / "a.yaml", f"name: env-a\nextends: {value}\n")
    got = problems("a.yaml")
    assert len(got) == 1 and got[0].startswith("a.yaml:2:") and got[0].endswith(f"extends: {message}")


def test_errors_are_located_in_the_base_that_wrote_them(repo):
    write(repo / "org.yaml", ORG.replace("  max_cpus: 32\n", "  max_cpus: 32\n  max_cpu: 2\n  boot_disk_gib: 1\n"))
    write(repo / "team.yaml", "extends: org.yaml\ncompute:\n  provisioning: on-demand\n")
    write(repo / "a.yaml", "extends: team.yaml\nname: env-a\nwork_dir: s3://bucket-a/work\n")
    assert problems("a.yaml") == [
        "org.yaml:8:3: compute.max_cpu: unknown key; did you mean 'max_cpus'? expected one of: provisioning, max_cpus, min_cpus, "
        "cost_percentage, allocation_strategy, instance_types, gpu, ami_id, boot_disk_gib, ebs_autoscale, fusion, ebs_kms_key_arn, aws_cli, head_queue, "
        'network, dispose; found "max_cpu"',
        "org.yaml:9:18: compute.boot_disk_gib: expected a whole number from 30 to 16384, found 1",
    ]


def test_a_rule_across_files_is_located_at_the_key_it_names(repo):
    # the base says spot with a cost percentage; the child switches to on-demand
    write(repo / "org.yaml", ORG + "  cost_percentage: 60\n")
    write(repo / "a.yaml", "extends: org.yaml\nname: env-a\nwork_dir: s3://bucket-a/work\ncompute:\n  provisioning: on-demand\n")
    assert problems("a.yaml") == [
        "org.yaml:12:3: compute.cost_percentage: expected no cost_percentage with provisioning: on-demand (it caps spot prices), found one"
    ]


def test_an_error_in_the_child_that_overrides_a_good_base(repo):
    write(repo / "org.yaml", ORG)
    write(repo / "a.yaml", "extends: org.yaml\nname: env-a\nwork_dir: s3://bucket-a/work\ncompute:\n  max_cpus: 0\n")
    assert problems("a.yaml") == ["a.yaml:5:13: compute.max_cpus: expected a whole number from 1 to 100000, found 0"]


def test_a_missing_required_key_is_located_in_the_child(repo):
    write(repo / "org.yaml", ORG)
    write(repo / "a.yaml", "extends: org.yaml\nwork_dir: s3://bucket-a/work\n")
    assert problems("a.yaml") == [
        "a.yaml:1:1: name: expected this required key (prefixes every AWS resource name), found nothing"
    ]


def test_a_base_that_is_not_a_mapping_or_not_yaml(repo):
    write(repo / "list.yaml", "- a\n- b\n")
    write(repo / "a.yaml", "extends: list.yaml\nname: env-a\n")
    assert problems("a.yaml") == ["list.yaml:1:1: expected a mapping of keys (a base file), found a list of 2 items"]
    write(repo / "bad.yaml", "tags: [a\n")
    write(repo / "a.yaml", "extends: bad.yaml\nname: env-a\n")
    assert problems("a.yaml")[0].startswith("bad.yaml:2:1: expected valid YAML, found a syntax error")


def test_a_long_chain_is_refused(repo):
    for i in range(20):
        write(repo / f"b{i}.yaml", f"extends: b{i + 1}.yaml\n")
    got = problems("b0.yaml")
    assert len(got) == 1 and "expected at most 16 files in a chain of extends, found more: b0.yaml -> b1.yaml" in got[0]


def test_extends_through_the_cli(repo):
    write(repo / "org.yaml", ORG)
    write(repo / "a.yaml", "extends: org.yaml\nname: env-a\nwork_dir: s3://bucket-a/work\ncompute:\n  max_cpus: 0\n")
    result = CliRunner().invoke(app, ["validate", "a.yaml"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: a.yaml:5:13: compute.max_cpus: expected a whole number from 1 to 100000, found 0"


def test_schema_names_extends():
    schema = file_schema()
    for form in ("Environment", "PartialEnvironment"):
        body = schema["$defs"][form]
        assert body["properties"]["extends"]["type"] == "string"
        assert "extends" not in body.get("required", [])
        assert body["additionalProperties"] is False
    assert schema["if"] == {"required": ["extends"]}, "a file with extends is checked as a partial file"
    assert "required" not in schema["$defs"]["PartialEnvironment"]
    json.dumps(schema)


def test_an_unreadable_extends_value_stops_before_validation(repo):
    write(repo / "a.yaml", "extends: !!binary b3JnLnlhbWw=\nname: env-a\n")
    assert problems("a.yaml") == ["a.yaml:1:10: extends: expected a plain value, found the YAML tag !!binary"]
