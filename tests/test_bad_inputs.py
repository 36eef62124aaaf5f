"""The corpus of bad environment files: each gives exactly the messages in its .txt file
(regenerate with `python tests/regenerate.py bad`, then review the diff)."""

from __future__ import annotations

import pytest

from regenerate import BAD, bad_messages

CASES = sorted(BAD.glob("*.yaml"))


def test_corpus_is_large_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_file_message(path):
    expected = path.with_suffix(".txt").read_text(encoding="utf-8")
    actual = bad_messages(path)
    assert actual == expected
    assert actual.startswith("exit 1\n")
    assert "Traceback" not in actual
    # every problem line is located: file:line:col, in the file or in a base file it extends
    for line in actual.splitlines()[1:-1]:
        assert line.startswith((f"error: {path.name}:", "error: bases/")), line
