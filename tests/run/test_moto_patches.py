"""The emulator's fixes find moto's handlers by the operation they answer, not by one spelling,
and stop with one clear line when moto has moved on (issue 12: moto 5.2.6 renamed
``createjobqueue`` to ``create_job_queue``)."""

from __future__ import annotations

import pytest

from towergen.errors import EmulatorError
from towergen.run import moto_patches


class OldSpelling:
    def createjobqueue(self):  # moto <= 5.2.5
        return "old"


class NewSpelling:
    def create_job_queue(self):  # moto >= 5.2.6
        return "new"


class Neither:
    def delete_job_queue(self):
        return ""


@pytest.mark.parametrize("cls, name", [(OldSpelling, "createjobqueue"), (NewSpelling, "create_job_queue")])
def test_the_handler_is_found_by_the_operation_it_answers(cls, name):
    assert moto_patches.handler_name(cls, "CreateJobQueue") == name


def test_a_missing_handler_is_an_emulator_error_naming_the_operation():
    with pytest.raises(EmulatorError, match="CreateJobQueue"):
        moto_patches.handler_name(Neither, "CreateJobQueue")


def test_a_fix_that_cannot_apply_names_the_moto_version_and_the_supported_range(monkeypatch):
    monkeypatch.setattr(moto_patches, "_APPLIED", False)

    def broken() -> None:
        raise AttributeError("type object 'BatchResponse' has no attribute 'createjobqueue'")

    monkeypatch.setattr(moto_patches, "_patch_fsx", broken)
    with pytest.raises(EmulatorError) as caught:
        moto_patches.apply()
    message = str(caught.value)
    assert "\n" not in message
    assert f"moto {moto_patches.moto_version()}" in message
    assert moto_patches.supported_range() in message
    assert moto_patches.supported_range().startswith(">=")


def test_the_supported_range_is_the_one_pyproject_declares():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    declared = [r for r in project["optional-dependencies"]["emulator"] if r.startswith("moto")]
    (requirement,) = declared
    parts = requirement.split("]", 1)[1].replace(" ", "").split(",")
    assert sorted(parts) == sorted(moto_patches.supported_range().split(","))
