"""What the documentation points at exists, and what it states about the rendered files is what
the files say.

A path in backquotes (``tests/e2e/test_emulator.py``) or a Markdown link names a file a reader
will open: it must be there. Placeholders in capitals (``NAME``) and globs are not paths.
"""

from __future__ import annotations

import re

import pytest

from conftest import ROOT

DOCS = sorted([ROOT / "README.md", ROOT / "DEVELOPERS.md", ROOT / "examples" / "gitops" / "README.md",
               *(ROOT / "docs").glob("*.md"), *(ROOT / "modules").glob("*/README.md")])
PATH = re.compile(r"`((?:tests|towergen|tools|modules|examples|docs|templates|bench|\.ci|\.github)/[^`\s]*)`")
LINK = re.compile(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)")


def _named(text: str) -> list[str]:
    found = [m.split("::")[0].rstrip("/") for m in PATH.findall(text)]
    found = [p for p in found if not re.search(r"[*<>{}]|\b[A-Z]{3,}\b", p)]
    return found + LINK.findall(text)


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_path_the_documentation_names_exists(doc):
    text = doc.read_text(encoding="utf-8")
    missing = [p for p in _named(text) if not (ROOT / p).exists() and not (doc.parent / p).exists()]
    assert not missing, f"{doc.relative_to(ROOT)} names files that are not there: {missing}"


def test_every_hop_limit_the_documentation_states_is_the_launch_templates():
    """The metadata hop limit is set in one place, modules/compute/main.tf; every page that
    states it says the same number."""
    module = (ROOT / "modules" / "compute" / "main.tf").read_text(encoding="utf-8")
    (limit,) = re.findall(r"http_put_response_hop_limit\s*=\s*(\d+)", module)
    for doc in DOCS:
        for stated in re.findall(r"hop\s+limit(?:\s+to|\s+of)?\**\s*(\d+)", doc.read_text(encoding="utf-8")):
            assert stated == limit, f"{doc.relative_to(ROOT)} says hop limit {stated}; the launch template sets {limit}"
