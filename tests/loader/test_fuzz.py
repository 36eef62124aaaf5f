"""Any bytes, any YAML: the loader raises SpecError or returns an environment, and `validate`
prints messages, never a traceback."""

from __future__ import annotations

import os
import tempfile

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from towergen.cli import app
from towergen.errors import SpecError
from towergen.loader.validate import load_file

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# YAML's own punctuation, so that random text reaches deep into the parser
YAML_ALPHABET = st.sampled_from(list("[]{}:-&*!|>'\"#,?%@`~.<= \n\t\r0aXy\\") + ["\x00", "\x1b", "é", "\ufeff", "\u2028"])


def _load_bytes(data: bytes) -> None:
    fd, path = tempfile.mkstemp(suffix=".yaml")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            load_file(path)
        except SpecError as exc:
            for problem in exc.problems:
                assert problem.message and problem.file
                str(problem).encode("utf-8")  # printable
    finally:
        os.unlink(path)


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes(data):
    _load_bytes(data)


@SETTINGS
@given(st.text(YAML_ALPHABET, max_size=200))
def test_random_yaml_punctuation(text):
    _load_bytes(text.encode("utf-8"))


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.sampled_from(["yes", "off", "0100", "12:30", "2024-01-01", "~", "*", "&", "<<", "!!int x", "1e999", "0x" + "f" * 30]),
)
KEYS = st.one_of(
    st.sampled_from(["version", "name", "region", "work_dir", "mode", "tags", "compute", "storage", "fsx", "manual",
                     "credentials", "head_job", "extends", "max_cpus", "min_cpus", "network", "lifecycle", "<<"]),
    st.text(max_size=8),
    st.integers(),
)
DOCS = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=8)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
HEAD = {"version": 1, "name": "env-a", "region": "eu-west-1", "work_dir": "s3://bucket-a/work"}


@SETTINGS
@given(st.dictionaries(KEYS, DOCS, max_size=4), st.booleans())
def test_random_documents(doc, with_head):
    data = {**HEAD, **doc} if with_head else doc
    _load_bytes(yaml.dump(data, Dumper=DUMPER, allow_unicode=True).encode("utf-8"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), st.dictionaries(KEYS, DOCS, max_size=4).map(lambda d: yaml.dump({**HEAD, **d}, Dumper=DUMPER).encode())))
def test_cli_validate_never_prints_a_traceback(data):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        result = CliRunner().invoke(app, ["validate", path])
    finally:
        os.unlink(path)
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
