"""The EC2 instance type catalogue (towergen/spec/ec2-instance-types.json) and its lookups.

The catalogue is derived from moto's instance type data by tools/derive_instance_types.py; the
last tests check that the committed file is what the script makes from the installed moto, so a
moto upgrade that changes AWS's data fails here until the file is regenerated and reviewed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from pydantic import TypeAdapter

from conftest import ROOT
from towergen.spec import instances as ic
from towergen.spec.model import InstanceType

DATA = ROOT / "towergen" / "spec" / "ec2-instance-types.json"
SCRIPT = ROOT / "tools" / "derive_instance_types.py"


def _script():
    spec = importlib.util.spec_from_file_location("derive_instance_types", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# What is known


@pytest.mark.parametrize("name", ["m6i.xlarge", "c6i", "m6id.2xlarge", "c7gd", "g4dn.xlarge", "p4d.24xlarge",
                                  "u-6tb1.112xlarge", "c7i-flex.large", "optimal", "default_x86_64", "default_arm64"])
def test_known(name):
    assert ic.known(name)
    assert ic.suggest(name) == []


@pytest.mark.parametrize("name", ["m5.huge", "c5dx.large", "p99", "m6i.", "", "M5.LARGE", "optimal.large"])
def test_unknown(name):
    assert not ic.known(name)
    assert not ic.has_nvme(name) and not ic.has_nvidia_gpu(name)
    assert ic.architectures(name) == frozenset()
    assert ic.info(name) is None


def test_suggest_a_size_of_a_known_family():
    assert ic.suggest("m5.huge")[0] == "m5.large"
    assert all(s.startswith("m5.") and ic.known(s) for s in ic.suggest("m5.huge"))
    assert ic.suggest("t2.mirco")[0] == "t2.micro"


def test_suggest_the_same_size_of_a_near_family():
    found = ic.suggest("c5dx.large")
    assert found[0] == "c5d.large"
    assert all(ic.known(s) for s in found)


def test_suggest_the_series_when_nothing_is_near():
    found = ic.suggest("p99")
    assert found and all(f.startswith("p") and ic.known(f) for f in found)
    assert "p5" in found


def test_suggest_special_values_and_spelling():
    assert ic.suggest("optimall") == ["optimal"]
    assert ic.suggest("default_arm")[0] == "default_arm64"
    assert ic.suggest(" M5.Large") == ["m5.large"]


def test_family_of():
    assert ic.family_of("m6id.2xlarge") == "m6id"
    assert ic.family_of("m6id") == "m6id"
    assert ic.family_of("m6id.huge") == "m6id"  # the family exists; known() says the size does not
    assert ic.family_of("u-6tb1.metal") == "u-6tb1"
    assert ic.family_of("optimal") == "optimal"
    assert ic.family_of("c5dx.large") is None
    assert ic.family_of("p99") is None


def test_every_name_passes_the_environment_file_pattern():
    """The model's InstanceType pattern must accept every real type, family and special value."""
    check = TypeAdapter(InstanceType).validate_python
    for name in (*ic.types(), *ic.families(), *ic.SPECIAL):
        assert check(name) == name


# Architectures


@pytest.mark.parametrize("name", ["c7gd", "m6g", "c7gd.large", "m6g.metal", "default_arm64"])
def test_arm64(name):
    assert ic.architectures(name) == {"arm64"}


@pytest.mark.parametrize("name", ["m6i", "c6id.4xlarge", "g4dn", "optimal", "default_x86_64"])
def test_x86_64(name):
    assert ic.architectures(name) == {"x86_64"}


# NVMe instance storage, by size


@pytest.mark.parametrize("name", ["m6id.2xlarge", "c6id.4xlarge", "c6id", "m6id", "r6id", "c7gd", "i4i", "g4dn"])
def test_nvme(name):
    assert ic.has_nvme(name)


@pytest.mark.parametrize("name", ["m6i.2xlarge", "m6i", "c6g", "m4", "h1", "d2", "optimal", "default_x86_64", "default_arm64"])
def test_no_nvme(name):
    assert not ic.has_nvme(name)


def test_nvme_facts():
    t = ic.info("m6id.2xlarge")
    assert (t.vcpus, t.memory_mib, t.storage_gb, t.storage_disk, t.nvme) == (8, 32768, 474, "ssd", True)
    assert ic.info("d3.xlarge").storage_disk == "hdd" and ic.has_nvme("d3")  # NVMe hard disks
    assert ic.info("m6i.2xlarge").storage_gb == 0


def _fake(monkeypatch, rows: dict[str, list[dict]]):
    """A catalogue of made-up families whose sizes disagree (the real data has none today)."""
    types, families = {}, {}
    for family, sizes in rows.items():
        made = []
        for s in sizes:
            t = ic.TypeInfo(name=f"{family}.{s['size']}", family=family, size=s["size"], vcpus=2, memory_mib=4096,
                                architectures=frozenset(s.get("arch", ["x86_64"])), gpus=s.get("gpus", 0), gpu_partition=None,
                                gpu_manufacturer=s.get("maker"), gpu_name=None, storage_gb=s.get("gb", 0),
                                storage_disk="ssd" if s.get("gb") else None, nvme=s.get("nvme", False),
                                current_generation=True, regions=frozenset({"eu-west-1"}))
            types[t.name] = t
            made.append(t)
        families[family] = tuple(made)
    fake = ic._Catalogue({"moto": "0"}, ("eu-west-1",), types, families)
    monkeypatch.setattr(ic, "_catalogue", lambda: fake)


def test_a_size_is_answered_for_itself_and_a_family_for_every_size(monkeypatch):
    _fake(monkeypatch, {
        "x9d": [{"size": "large", "gb": 100, "nvme": True}, {"size": "metal"}],
        "x9g": [{"size": "large", "gpus": 1, "maker": "NVIDIA"}, {"size": "xlarge", "gpus": 1, "maker": "AMD"}],
        "x9a": [{"size": "large"}, {"size": "metal", "arch": ["arm64"]}],
    })
    assert ic.has_nvme("x9d.large") and not ic.has_nvme("x9d.metal") and not ic.has_nvme("x9d")
    assert ic.has_nvidia_gpu("x9g.large") and not ic.has_nvidia_gpu("x9g.xlarge") and not ic.has_nvidia_gpu("x9g")
    assert ic.architectures("x9a") == {"x86_64", "arm64"} and ic.architectures("x9a.large") == {"x86_64"}


def test_every_size_answers_from_its_own_row():
    for name in ic.types():
        t = ic.info(name)
        assert ic.has_nvme(name) == t.nvme
        assert ic.has_nvidia_gpu(name) == (t.gpus > 0 and t.gpu_manufacturer == "NVIDIA")
        assert ic.architectures(name) == t.architectures


# GPUs


@pytest.mark.parametrize("name", ["g4dn", "g5", "g6", "g6e", "p4d", "p5", "g4dn.xlarge", "p4d.24xlarge"])
def test_nvidia_gpu(name):
    assert ic.has_nvidia_gpu(name)


@pytest.mark.parametrize("name", ["g4ad", "g4ad.xlarge", "inf1", "inf2", "trn1", "m6i", "optimal", "default_x86_64"])
def test_no_nvidia_gpu(name):
    assert not ic.has_nvidia_gpu(name)


def test_gpu_facts():
    t = ic.info("g4dn.xlarge")
    assert (t.gpus, t.gpu_manufacturer, t.gpu_name) == (1, "NVIDIA", "T4")
    assert ic.info("p4d.24xlarge").gpus == 8
    assert ic.info("inf1.xlarge").gpus == 0  # Inferentia is not a GPU
    # A fraction of an L4: recorded, but not a GPU a job can ask for.
    frac = ic.info("g6f.large")
    assert (frac.gpus, frac.gpu_partition, frac.gpu_manufacturer, frac.gpu_name) == (0, 0.125, "NVIDIA", "L4")
    assert not ic.has_nvidia_gpu("g6f") and not ic.has_nvidia_gpu("gr6f.4xlarge")
    assert ic.info("g6.xlarge").gpu_partition is None
    # g4ad (AMD Radeon Pro V520) is absent from moto 5.2.6's data; if it comes back, it is AMD.
    assert all(t.gpu_manufacturer == "AMD" for t in ic.sizes("g4ad"))


# AWS Batch's special values


def test_special_values_stand_for_families_the_catalogue_knows():
    for name, families in ic.SPECIAL.items():
        assert all(f in ic.families() for f in families), name
    assert all(f in ic.families() for f in ic.OPTIMAL_FALLBACK)
    assert ic.SPECIAL["optimal"] == ("c4", "m4", "r4")


def test_optimal_answers_the_same_whichever_families_the_region_gets():
    for family in (*ic.SPECIAL["optimal"], *ic.OPTIMAL_FALLBACK, *ic.SPECIAL["default_x86_64"]):
        assert ic.architectures(family) == {"x86_64"}
        assert not any(t.storage_gb or t.gpus for t in ic.sizes(family)), family


# Regions


def test_offered_in():
    assert ic.offered_in("m6i.xlarge", "eu-west-1") is True
    assert ic.offered_in("m6i", "eu-west-1") is True
    assert ic.offered_in("optimal", "eu-west-1") is True
    assert ic.offered_in("c5dx.large", "eu-west-1") is None
    assert ic.offered_in("m6i", "cn-north-1") is None  # moto has no offerings for China
    assert "eu-west-1" in ic.regions() and "us-east-1" in ic.regions()


# The file and the script that makes it


def test_source_is_recorded():
    src = ic.source()
    assert src["moto"] and src["generated"][:2] == "20"
    assert src["files"][0] == "moto/ec2/resources/instance_types.json.gz"


def test_file_is_small():
    assert DATA.stat().st_size < 300_000


def _rows_by_type(catalogue: dict) -> dict[str, dict]:
    columns = catalogue["columns"]
    return {f"{family}.{row[0]}": dict(zip(columns, row, strict=True))
            for family, rows in catalogue["families"].items() for row in rows}


def test_committed_file_is_what_the_script_makes_from_the_installed_moto():
    """With the moto release the file records: byte for byte, except the date it was generated.
    With another release (CI runs the lowest and the newest moto pyproject.toml allows): every
    type both know has the same vCPUs, memory, architectures, GPUs and instance storage; AWS adds
    and retires types between releases, and regions gain offerings, which is not a disagreement."""
    derive = _script()
    committed = json.loads(DATA.read_text(encoding="utf-8"))
    made = derive.derive()
    if made["source"]["moto"] == committed["source"]["moto"]:
        made["source"]["generated"] = committed["source"]["generated"]
        assert derive.render(made) == DATA.read_text(encoding="utf-8"), (
            f"towergen/spec/ec2-instance-types.json differs from what moto {made['source']['moto']} gives: "
            "run `python tools/derive_instance_types.py` and review the diff"
        )
        return
    ours, theirs = _rows_by_type(committed), _rows_by_type(made)
    both = sorted(set(ours) & set(theirs))
    assert len(both) > 0.8 * len(ours), f"moto {made['source']['moto']} knows few of the catalogue's types"
    keys = [c for c in committed["columns"] if c not in ("regions", "current")]
    differ = [t for t in both if any(ours[t][k] != theirs[t][k] for k in keys)]
    assert not differ, f"moto {made['source']['moto']} describes these types otherwise: {differ[:10]}"


def test_script_output_is_deterministic(tmp_path):
    derive = _script()
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert derive.main(["--date", "2000-01-01", "--output", str(first)]) == 0
    assert derive.main(["--date", "2000-01-01", "--output", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert json.loads(first.read_text())["source"]["generated"] == "2000-01-01"
    if derive.derive()["source"]["moto"] == json.loads(DATA.read_text())["source"]["moto"]:
        assert derive.main(["--check", "--output", str(DATA)]) == 0


def test_importable_without_towergen_or_pydantic():
    """Loaded from its path, the module reads the data next to it and imports neither towergen
    nor pydantic."""
    code = (
        "import importlib.util, sys;"
        "spec = importlib.util.spec_from_file_location('instance_catalogue', sys.argv[1]);"
        "m = sys.modules[spec.name] = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
        "assert m.has_nvme('m6id.2xlarge') and m.known('c6i');"
        "assert not any(n.split('.')[0] in ('towergen', 'pydantic') for n in sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code, str(ROOT / "towergen" / "spec" / "instances.py")], check=True)
