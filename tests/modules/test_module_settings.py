"""What the Terraform modules promise, read from their source with python-hcl2 (default tier).

The modules are copied verbatim into every output tree and are not part of the golden trees; the
terraform and emulator tiers exercise them, slowly. These tests hold the settings a careless edit
could change without any file failing to validate: every input is used, the launch template's
boot disk and metadata, the compute environments' wiring, the bucket's protection, the Lustre
ports (issue 18's mutation run found each surviving the default tier)."""

from __future__ import annotations

import re

import hcl2
import pytest

from conftest import ROOT

MODULES = ROOT / "modules"
ALL_MODULES = sorted(p.name for p in MODULES.iterdir() if p.is_dir())


def _plain(value):
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items() if not k.startswith("__")}
    return value


def resources(module: str) -> dict[str, dict[str, dict]]:
    """type -> name -> body of the module's resources (and data sources, as "data.TYPE")."""
    found: dict[str, dict[str, dict]] = {}
    for path in sorted((MODULES / module).glob("*.tf")):
        parsed = hcl2.loads(path.read_text(encoding="utf-8"))
        for kind, prefix in (("resource", ""), ("data", "data.")):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        found.setdefault(prefix + _plain(rtype), {})[_plain(name)] = _plain(body)
    return found


def _one(blocks):
    assert isinstance(blocks, list) and len(blocks) == 1, blocks
    return blocks[0]


@pytest.mark.parametrize("module", ALL_MODULES)
def test_every_input_is_used(module):
    """A variable no expression reads is an input that does nothing: a value wired to a constant
    by mistake leaves exactly that."""
    folder = MODULES / module
    declared = [_plain(k) for block in hcl2.loads((folder / "variables.tf").read_text()).get("variable", []) for k in block]
    code = "\n".join(p.read_text() for p in sorted(folder.glob("*.tf")) if p.name != "variables.tf")
    code += "\n".join(re.findall(r"condition\s*=.*", (folder / "variables.tf").read_text()))
    unused = [name for name in declared if not re.search(rf"\bvar\.{re.escape(name)}\b", code)]
    assert unused == [], f"{module}: variables nothing reads: {unused}"


def test_launch_template_boot_disk_and_metadata():
    lt = resources("compute")["aws_launch_template"]["this"]
    ebs = _one(_one(lt["block_device_mappings"])["ebs"])
    assert ebs["volume_type"] == "gp3" and ebs["encrypted"] is True and ebs["delete_on_termination"] is True
    assert ebs["volume_size"] == "${var.boot_disk_gib}" and ebs["throughput"] == "${var.boot_disk_throughput}"
    meta = _one(lt["metadata_options"])
    assert (meta["http_endpoint"], meta["http_tokens"], meta["http_put_response_hop_limit"]) == ("enabled", "required", 1)
    assert lt["user_data"] == "${base64encode(var.user_data)}"


def test_compute_environments_take_what_towergen_decided():
    ces = resources("compute")["aws_batch_compute_environment"]
    work = _one(ces["work"]["compute_resources"])
    assert work["type"] == "${var.provisioning}" and work["allocation_strategy"] == "${var.allocation_strategy}"
    assert work["instance_type"] == "${var.instance_types}" and work["max_vcpus"] == "${var.max_vcpus}"
    assert work["min_vcpus"] == "${var.min_vcpus}"
    assert work["bid_percentage"] == '${var.provisioning == "SPOT" ? var.bid_percentage : null}'
    head = _one(ces["head"]["compute_resources"])
    assert (head["type"], head["allocation_strategy"], head["min_vcpus"]) == ("EC2", "BEST_FIT_PROGRESSIVE", 0)
    for ce in (work, head):
        assert _one(ce["launch_template"])["launch_template_id"] == "${aws_launch_template.this.id}"
    queues = resources("compute")["aws_batch_job_queue"]
    for queue in queues.values():
        limit = _one(queue["job_state_time_limit_action"])
        assert (limit["action"], limit["state"], limit["max_time_seconds"]) == ("CANCEL", "RUNNABLE", "${var.unschedulable_job_timeout_seconds}")


def test_the_work_bucket_is_private_and_encrypted():
    s3 = resources("storage")
    block = s3["aws_s3_bucket_public_access_block"]["this"]
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    assert _one(s3["aws_s3_bucket_ownership_controls"]["this"]["rule"])["object_ownership"] == "BucketOwnerEnforced"
    sse = _one(_one(s3["aws_s3_bucket_server_side_encryption_configuration"]["this"]["rule"])["apply_server_side_encryption_by_default"])
    assert sse["sse_algorithm"] == "AES256"
    assert s3["aws_s3_bucket"]["this"]["force_destroy"] == "${var.force_destroy}"
    rule = _one(s3["aws_s3_bucket_lifecycle_configuration"]["this"]["rule"])
    assert _one(rule["filter"])["prefix"] == "${var.lifecycle_prefix}"


def test_the_file_system_admits_lustre_from_the_instances():
    """Lustre's ports (AWS: TCP 988, and 1018-1023), from the file system's own group and the
    instances' groups."""
    text = (MODULES / "fsx" / "main.tf").read_text()
    ports = re.search(r"lustre_ports\s*=\s*\{([^}]*)\}", text).group(1)
    assert sorted(tuple(map(int, p)) for p in re.findall(r"\[(\d+),\s*(\d+)\]", ports)) == [(988, 988), (1018, 1023)]
    rule = resources("fsx")["aws_vpc_security_group_ingress_rule"]["lustre"]
    assert rule["ip_protocol"] == "tcp"
    assert 'concat(["self"], var.client_security_group_ids)' in text
    fs = resources("fsx")["aws_fsx_lustre_file_system"]["this"]
    assert fs["security_group_ids"] == ["${aws_security_group.this.id}"]
    assert (fs["storage_capacity"], fs["deployment_type"]) == ("${var.storage_gib}", "${var.deployment_type}")
