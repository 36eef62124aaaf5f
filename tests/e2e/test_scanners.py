"""Security scanners on towergen's output (issue 6): checkov on every example's Terraform.

checkov and parliament live in their own virtualenv (.venv-scanners, or on PATH): checkov pins
dependency versions that towergen's own environment does not accept. parliament runs on every
policy as IAM holds it, in tests/test_iam.py (it needs the applied policies).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import towergen

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "iam"))
import harness
from conftest import EXAMPLES, ROOT

CONFIG = ROOT / ".checkov.yaml"


def test_every_checkov_skip_has_a_reason():
    lines = [line for line in CONFIG.read_text(encoding="utf-8").splitlines() if re.match(r"\s*- CKV", line)]
    assert lines, "no skip list found"
    for line in lines:
        m = re.match(r"\s*- (CKV2?_[A-Z0-9]+_\d+)\s+# reason: (.+)", line)
        assert m and len(m.group(2)) > 40, f"a skip without a reason: {line.strip()}"


@pytest.mark.scanners
def test_checkov_passes_every_example(tmp_path):
    out = tmp_path / "infra"
    towergen.render(EXAMPLES, out)
    proc = subprocess.run(
        [harness.scanner("checkov"), "-d", str(out), "--config-file", str(CONFIG), "--skip-download", "--compact", "--quiet", "-o", "json"],
        capture_output=True, text=True, check=False,
    )
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']})" for r in reports for c in r["results"]["failed_checks"]]
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0, proc.stderr[-2000:]
    assert summary["resource_count"] > 30, summary  # it did read the modules
    assert not failed, "\n".join(failed)
