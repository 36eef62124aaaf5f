"""The formatter's widths in the default tier: names align by grapheme clusters as hclwrite counts
them (tests/renderer/test_hclfmt.py compares whole documents with the real terraform fmt in the
terraform tier). ASCII names take a shortcut; these cases keep the cluster rules honest."""

from __future__ import annotations

import pytest

from towergen.renderer.hclfmt import columns, format_hcl


@pytest.mark.parametrize(("text", "width"), [
    ("abc", 3),
    ("e\u0301", 1),                      # a combining mark extends the letter before it
    ("\u0e01\u0e33", 1),                 # Thai SARA AM: a letter that is a spacing mark
    ("\U0001F468\u200d\U0001F469\u200d\U0001F467", 1),  # an emoji ZWJ sequence
    ("\U0001F44D\U0001F3FD", 1),         # an emoji modifier
    ("\U0001F1EB\U0001F1F7", 1),         # two regional indicators: one flag
    ("\U0001F1EB\U0001F1F7\U0001F1E9", 2),
    ("\u1100\u1161\u11a8", 1),           # Hangul jamo L V T: one syllable
    ("\ud55c\uae00", 2),                 # precomposed Hangul syllables
])
def test_columns_count_grapheme_clusters(text, width):
    assert columns(text) == width


def test_names_align_by_their_width_not_their_length():
    # "é" (e and a combining acute) is 3 columns with its quotes, "ab" 4: as terraform fmt 1.11 lays it out
    text = format_hcl('x = {\n"e\u0301" = 1\n"ab" = 2\n}\n')
    assert text == 'x = {\n  "e\u0301"  = 1\n  "ab" = 2\n}\n'
