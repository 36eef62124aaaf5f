"""What reaches the rendered files: free text byte-exact, LF endings, the modules verbatim, the platform file and nextflow.config."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
import pytest

import towergen
from conftest import EXAMPLES
from towergen.errors import RenderError
from towergen.loader.validate import load_file
from towergen.paths import MODULES
from towergen.renderer.escape import hcl_unquote


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def minimal(name="t1", extra=""):
    return f"version: 1\nname: {name}\nregion: eu-west-1\nwork_dir: s3://some-bucket/work\n{extra}"


def test_free_text_reaches_terraform_byte_exact(tmp_path):
    tags = {"team": "génomique", "path/like:key": "a=b+c@d e", "Ünïcode 名前": "値 1.5"}
    lines = "".join(f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in tags.items())
    spec = write(tmp_path, "env.yaml", minimal(extra=f"tags:\n{lines}"))
    towergen.render([spec], tmp_path / "out")
    parsed = hcl2.loads((tmp_path / "out" / "t1" / "main.tf").read_text(encoding="utf-8"))
    rendered = parsed["locals"][0]["tags"]
    # towergen's two default tags, then the file's, each byte for byte
    assert {hcl_unquote(k) if k.startswith('"') else k: hcl_unquote(v) for k, v in rendered.items()} == {
        "managed-by": "towergen", "towergen-environment": "t1", **tags}


def test_every_output_file_is_lf_with_final_newline(rendered_examples):
    for path in rendered_examples.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert data.endswith(b"\n") and b"\r" not in data, path


def test_modules_are_copied_verbatim(rendered_examples):
    root = Path(towergen.__file__).resolve().parent.parent / "modules"
    # the modules environments call; standalone ones (state-bucket) are not rendered
    source = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] in MODULES}
    copied = {p.relative_to(rendered_examples / "modules"): p.read_bytes()
              for p in (rendered_examples / "modules").rglob("*") if p.is_file()}
    assert copied == source


def test_platform_json_and_nextflow_config(rendered_examples):
    spot = json.loads((rendered_examples / "spot-eu-west-1" / "platform-compute-env.json").read_text())
    assert spot["discriminator"] == "aws-batch"
    assert spot["headQueue"] == "spot-eu-west-1-head" and spot["computeQueue"] == "spot-eu-west-1-work"
    assert spot["fusion2Enabled"] and spot["waveEnabled"] and "cliPath" not in spot
    manual = json.loads((rendered_examples / "manual-eu-west-2" / "platform-compute-env.json").read_text())
    assert manual["headJobRole"] == "arn:aws:iam::123456789012:role/manual-eu-west-2-head-job"
    fsx = (rendered_examples / "fsx-eu-central-1" / "nextflow.config").read_text()
    # the work directory in S3, FSx mounted in every task for data
    assert "workDir = 's3://popgen-eu-central-1-work/work'" in fsx and "volumes = ['/fsx']" in fsx
    assert "executor = 'awsbatch'" in fsx and "queue = 'fsx-eu-central-1-work'" in fsx


def test_without_account_id_the_files_are_outputs_only(tmp_path):
    """No file that would name no job role (tasks would run as the instance role): the outputs
    hold the complete ones, with the roles' ARNs filled in by Terraform."""
    text = next(p for p in EXAMPLES if p.name == "manual.yaml").read_text().replace('account_id: "123456789012"', "# no account_id")
    spec = write(tmp_path, "manual.yaml", text)
    result = towergen.render([spec], tmp_path / "out")
    assert [w.path for w in result.warnings] == ["account_id"]
    folder = tmp_path / "out" / "manual-eu-west-2"
    assert not (folder / "platform-compute-env.json").exists() and not (folder / "nextflow.config").exists()
    outputs = (folder / "outputs.tf").read_text()
    for needle in ('"  \\"headQueue\\": \\"tower-head\\",",', '"  \\"cliPath\\": \\"/home/ec2-user/miniconda/bin/aws\\",",',
                   '"  \\"headJobRole\\": \\"${module.iam.head_job_role_arn}\\",",'):
        assert needle in outputs, needle


def test_user_data_has_the_forge_steps(rendered_examples):
    spot = (rendered_examples / "spot-eu-west-1" / "user-data.tftpl").read_text()
    assert spot.startswith('Content-Type: multipart/mixed; boundary="')
    for needle in ("ECS_ENABLE_SPOT_INSTANCE_DRAINING=true", "20-fusion-storage.sh", "vm.dirty_bytes = 1258291200"):
        assert needle in spot
    # Fusion needs no AWS CLI on the host, and EBS autoscale is ignored beside it
    assert "awscli" not in spot.lower() and "ebs-autoscale" not in spot
    gpu = (rendered_examples / "gpu-us-west-2" / "user-data.tftpl").read_text()
    assert "ebs-autoscale" not in gpu and "awscli-exe-linux" in gpu  # scratch on the boot disk
    fsx = (rendered_examples / "fsx-eu-central-1" / "user-data.tftpl").read_text()
    assert 'dns_name="${fsx_dns_name}"' in fsx and 'mount_name="${fsx_mount_name}"' in fsx
    assert "mount_path=/fsx" in fsx and "ebs-autoscale" not in fsx and "awscli-exe-linux" in fsx
    assert not (rendered_examples / "manual-eu-west-2" / "user-data.tftpl").exists()


def test_min_cpus_warns_but_renders(tmp_path):
    spec = write(tmp_path, "env.yaml", minimal(extra="account_id: '123456789012'\ncompute:\n  min_cpus: 8\n"))
    result = towergen.render([spec], tmp_path / "out")
    assert [w.path for w in result.warnings] == ["compute.min_cpus"]
    assert "cost" in result.warnings[0].message
    assert (tmp_path / "out" / "t1" / "main.tf").exists()


def test_dispose_false_guards_bucket(rendered_examples):
    gpu = (rendered_examples / "gpu-us-west-2" / "main.tf").read_text()
    assert 'resource "terraform_data" "protect"' in gpu and "prevent_destroy = true" in gpu
    assert "force_destroy = false" in gpu
    spot = (rendered_examples / "spot-eu-west-1" / "main.tf").read_text()
    assert "terraform_data" not in spot


def test_output_that_does_not_parse_is_an_error():
    from towergen.renderer.checks import check_files

    with pytest.raises(RenderError, match="x/main.tf does not parse as HCL"):
        check_files({"x/main.tf": 'locals {\n  a = "unterminated\n}\n'})
    with pytest.raises(RenderError, match="final newline"):
        check_files({"x/nextflow.config": "workDir = 'x'"})
    check_files({"x/main.tf": 'locals {\n  a = "fine"\n}\n'})


def test_all_examples_render_each_into_its_folder(tmp_path):
    result = towergen.render(EXAMPLES, tmp_path / "out")
    assert sorted(result.environments) == sorted(load_file(p).env.name for p in EXAMPLES)
