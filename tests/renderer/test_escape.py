"""The escaping layer round-trips any string: through python-hcl2, through Terraform itself
(strings, object keys, template files) and through the shell."""

from __future__ import annotations

import json
import subprocess
import unicodedata

import hcl2
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from towergen.renderer.escape import (
    Hcl,
    comment,
    groovy,
    groovy_string,
    hcl,
    hcl_key,
    hcl_list,
    hcl_map,
    hcl_ref,
    hcl_string,
    hcl_unquote,
    sh,
    sh_tpl,
    tftpl_escape,
    tpl_var,
)

# Fragments that matter to HCL, templates and shells, mixed with arbitrary text.
TRICKY = ["${", "%{", "$${", "%%{", "}", "{", "$", "%", "\\", '"', "'", "\n", "\r", "\t", "\x00", "\x7f", "\u2028", "é", "e\u0301", "🙂", "`", "!"]
fragments = st.one_of(st.sampled_from(TRICKY), st.text(max_size=8))
any_string = st.lists(fragments, max_size=12).map("".join)


def _hcl2_value(literal: str) -> str:
    parsed = hcl2.loads(f"x = {literal}\n")
    return hcl_unquote(parsed["x"])


@pytest.mark.parametrize(
    "value, literal",
    [
        ("plain", '"plain"'),
        ('q"uote', '"q\\"uote"'),
        ("back\\slash", '"back\\\\slash"'),
        ("new\nline\ttab\rcr", '"new\\nline\\ttab\\rcr"'),
        ("${x}", '"$${x}"'),
        ("%{ if }", '"%%{ if }"'),
        ("${no close", '"$\\u007bno close"'),
        ("nul\x00del\x7f", '"nul\\u0000del\\u007f"'),
        # C1 controls and the line and paragraph separators are escaped too (terminals and
        # editors act on them); U+00A0, the first character after the C1 block, is text
        ("c1\x80\x85\x9f nbsp\xa0", '"c1\\u0080\\u0085\\u009f nbsp\xa0"'),
        ("ls\u2028ps\u2029", '"ls\\u2028ps\\u2029"'),
        ("ünï😀", '"ünï😀"'),
    ],
)
def test_hcl_string_examples(value, literal):
    assert hcl_string(value) == literal
    assert _hcl2_value(literal) == value


# No deadline: the first call builds python-hcl2's parser, seconds on a loaded machine.
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_string)
def test_hcl_string_round_trips_through_python_hcl2(value):
    assert _hcl2_value(hcl_string(value)) == value


def test_hcl_keys_and_literals():
    assert hcl_key("team") == "team"
    assert hcl_key("cost-centre") == "cost-centre"
    assert hcl_key("a:b") == '"a:b"'
    assert hcl_key("null") == '"null"'
    assert hcl_key("1abc") == '"1abc"'
    assert hcl(None) == "null" and hcl(True) == "true" and hcl(5) == "5"
    assert hcl_list(["a", "b"]) == '["a", "b"]'
    assert hcl_list([]) == "[]"
    assert hcl_map({"a": 1, "b c": "x"}, inline=True) == '{ a = 1, "b c" = "x" }'
    assert hcl_map({}) == "{}"
    assert isinstance(hcl("x"), Hcl)
    with pytest.raises(TypeError):
        hcl(1.5)
    with pytest.raises(ValueError):
        hcl_ref('var.x"')
    with pytest.raises(ValueError):
        hcl_string("\ud800")


def test_hcl_unquote_rejects_templates():
    with pytest.raises(ValueError):
        hcl_unquote('"${var.x}"')
    with pytest.raises(ValueError):
        hcl_unquote('"\\q"')


def test_other_languages():
    assert sh("a b'c") == "'a b'\"'\"'c'"
    assert sh(42) == "42"
    with pytest.raises(ValueError):
        sh("nul\x00")
    assert groovy_string("it's \\ $x") == "'it\\'s \\\\ $x'"
    assert groovy(["/a", True, 3]) == "['/a', true, 3]"
    assert comment("a\nb") == "a\\u000ab"
    assert comment("a\x9bb\xa0") == "a\\u009bb\xa0"
    assert groovy_string("c1\x85") == "'c1\\u0085'"
    assert tftpl_escape("${a} %{b} $c") == "$${a} %%{b} $c"
    with pytest.raises(ValueError):
        tftpl_escape("carriage\rreturn")
    # a shell word in the user-data template: quoted for the shell, then for templatefile
    assert sh_tpl("/a b/${x}") == "'/a b/$${x}'"
    assert tpl_var("fsx_dns_name") == '"${fsx_dns_name}"'
    with pytest.raises(ValueError):
        tpl_var("not a name")


@settings(max_examples=200, deadline=None)  # each example starts bash
@given(any_string.filter(lambda s: "\x00" not in s))
def test_shell_words_round_trip_through_bash(value):
    out = subprocess.run(["bash", "-c", f"printf %s {sh(value)}"], capture_output=True, check=True).stdout
    assert out.decode("utf-8", "surrogateescape") == value


# --- Terraform itself, batched: one apply (no providers, well under a second) per example -------

BATCH = 40


def _terraform_values(terraform, tmp_path, strings: list[str], keys: list[str]) -> dict:
    lines = ["locals {", "  strings = ["]
    lines += [f"    {hcl_string(s)}," for s in strings]
    lines += ["  ]", "  keys = {"]
    lines += [f"    {hcl_key(k)} = {i}" for i, k in enumerate(keys)]
    lines += ["  }", "}"]
    lines += ['output "strings" {', "  value = local.strings", "}"]
    lines += ['output "keys" {', "  value = keys(local.keys)", "}"]
    lines += ['output "template" {', '  value = templatefile("${path.module}/t.tftpl", {})', "}"]
    (tmp_path / "main.tf").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # A template file whose lines are the strings, escaped for templatefile. tftpl_escape refuses
    # carriage returns (HCL's template scanner mis-reads "$$${" after a lone CR), so they are
    # left out of the template half of the test only.
    template = "\n".join(tftpl_escape(s.replace("\r", "")) for s in strings)
    (tmp_path / "t.tftpl").write_bytes(template.encode("utf-8"))
    terraform.run("init", "-no-color", cwd=tmp_path)
    terraform.run("apply", "-auto-approve", "-no-color", cwd=tmp_path)
    out = terraform.run("output", "-json", "-no-color", cwd=tmp_path).stdout
    return json.loads(out)


nfc_key = st.text(min_size=1, max_size=10).map(lambda s: unicodedata.normalize("NFC", s))


@pytest.mark.terraform
# No shrinking: each example runs Terraform, and the failure message shows the strings.
@settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    strings=st.lists(any_string, min_size=BATCH, max_size=BATCH),
    keys=st.lists(nfc_key, min_size=10, max_size=10, unique=True),
)
def test_hcl_string_round_trips_through_terraform(terraform, tmp_path_factory, strings, keys):
    # The hypothesis examples share the test's function scope, so each gets its own folder.
    work = tmp_path_factory.mktemp("tf-roundtrip")
    values = _terraform_values(terraform, work, strings, keys)
    # Terraform normalises every string to Unicode NFC (towergen refuses non-NFC free text for
    # that reason); apart from that, every string comes back exactly.
    assert values["strings"]["value"] == [unicodedata.normalize("NFC", s) for s in strings]
    assert values["keys"]["value"] == sorted(keys)
    template_lines = [s.replace("\r", "") for s in strings]
    assert values["template"]["value"] == unicodedata.normalize("NFC", "\n".join(template_lines))
