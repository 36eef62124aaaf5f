"""Reading YAML safely: hostile files give a located error quickly, scalars read as YAML 1.2."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from towergen.cli import app
from towergen.errors import SpecError
from towergen.loader.validate import load_file, load_text
from towergen.spec import reader as yamlsafe

HEAD = "version: 1\nname: env-a\nregion: eu-west-1\nwork_dir: s3://bucket-a/work\n"


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as err:
        load_text(text, "f.yaml")
    return [str(p) for p in err.value.problems]


def alias_bomb() -> str:
    lines = ["x0: &a0 [l, l, l, l, l, l, l, l, l]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 7)]
    return "\n".join(lines) + "\n"


# --- bounded: size, depth, expansion ---------------------------------------------------------------


def test_alias_bomb_is_refused_quickly():
    text = alias_bomb()
    assert len(text) < 440  # the 420-byte file: 9**7 = 4.8 million values once expanded
    start = time.perf_counter()
    assert problems(text) == ["f.yaml:1:31: expected at most 10000 keys and values once aliases (*name) are expanded, found more"]
    assert time.perf_counter() - start < 2


def test_merge_key_bomb_is_refused():
    # merge keys copy a mapping's keys: nine merges per level also grow as 9**n
    lines = ["a0: &a0 {k: v}"]
    lines += [f"a{i}: &a{i} {{<<: [{', '.join([f'*a{i - 1}'] * 9)}]}}" for i in range(1, 9)]
    assert "expected at most 10000 keys and values" in problems("\n".join(lines) + "\n")[0]


def test_expansion_below_the_cap_is_read():
    text = HEAD + "x: &a [1, 2, 3]\ny: [*a, *a, *a]\n"
    assert problems(text)[0].startswith("f.yaml:5:1: x: unknown key")  # read, then refused as a key


@pytest.mark.parametrize(
    "text, message",
    [
        ("tags: " + "[" * 10000 + "]" * 10000 + "\n", "f.yaml:1:70: expected at most 64 levels of nesting, found more"),
        ("tags: " + "{a: " * 10000 + "1" + "}" * 10000 + "\n", "f.yaml:1:259: expected at most 64 levels of nesting, found more"),
        ("a: &a [*a]\n", "f.yaml:1:4: expected at most 64 levels of nesting once aliases (*name) are expanded, found more"),
        ("a: &a {<<: *a}\n", "f.yaml:1:8: expected at most 64 levels of nesting once aliases (*name) are expanded, found more"),
    ],
    ids=["flow-lists", "flow-mappings", "self-alias", "self-merge"],
)
def test_nesting_is_bounded(text, message):
    assert problems(text) == [message]


def test_block_nesting_at_the_limit_is_read():
    deep = "".join(f"{'  ' * i}k{i}:\n" for i in range(63)) + "  " * 63 + "end: 1\n"
    assert problems(HEAD + deep)[0].startswith("f.yaml:5:1: k0: unknown key")
    deeper = "".join(f"{'  ' * i}k{i}:\n" for i in range(64)) + "  " * 64 + "end: 1\n"
    assert problems(HEAD + deeper) == ["f.yaml:69:129: expected at most 64 levels of nesting, found more"]


def test_file_size_is_capped(tmp_path):
    at_cap = tmp_path / "at-cap.yaml"
    filler = "#" * 99 + "\n"
    body = HEAD + filler * ((yamlsafe.MAX_BYTES - len(HEAD)) // len(filler))
    at_cap.write_text(body + "#" * (yamlsafe.MAX_BYTES - len(body)))
    assert at_cap.stat().st_size == yamlsafe.MAX_BYTES
    assert load_file(at_cap).env.name == "env-a"
    over = tmp_path / "over.yaml"
    over.write_bytes(at_cap.read_bytes() + b"\n")
    with pytest.raises(SpecError) as err:
        load_file(over)
    assert [p.message for p in err.value.problems] == [f"expected a file of at most 1 MiB, found {yamlsafe.MAX_BYTES + 1} bytes"]


def test_a_file_that_grows_after_stat_is_read_up_to_the_cap_only(tmp_path, monkeypatch):
    path = tmp_path / "growing.yaml"
    path.write_bytes(b"#" * (3 * yamlsafe.MAX_BYTES))
    real_stat = os.stat
    monkeypatch.setattr(yamlsafe.os, "stat", lambda p: os.stat_result((*real_stat(p)[:6], 10, *real_stat(p)[7:])))
    reads: list[int] = []
    real_read = os.read
    monkeypatch.setattr(yamlsafe.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with pytest.raises(yamlsafe.Refused, match="expected a file of at most 1 MiB, found more"):
        yamlsafe.read_text(path, "growing.yaml")
    assert sum(reads) <= yamlsafe.MAX_BYTES + 1 + sum(reads[-1:])


def _in_thread(fn, timeout=10):
    outcome: list = []

    def run():
        try:
            outcome.append(fn())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "reading blocked"
    return outcome[0]


@pytest.mark.parametrize(
    "kind, message",
    [
        ("fifo", "expected a regular file, found a named pipe (FIFO)"),
        ("/dev/zero", "expected a regular file, found a character device"),
        ("folder", "expected a regular file, found a folder"),
        ("missing", "expected a readable file, found: No such file or directory"),
    ],
)
def test_files_that_are_not_regular_files_are_refused_without_reading(tmp_path, kind, message):
    path = {"fifo": tmp_path / "env.yaml", "/dev/zero": Path("/dev/zero"), "folder": tmp_path, "missing": tmp_path / "nope.yaml"}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # no writer: a blocking open or read would wait forever
    error = _in_thread(lambda: load_file(path))
    assert isinstance(error, SpecError)
    assert [(p.line, p.message) for p in error.problems] == [(0, message)]


def test_cli_validate_dev_zero_and_a_fifo_end(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = _in_thread(lambda: CliRunner().invoke(app, ["validate", "/dev/zero", str(fifo)]))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: /dev/zero: expected a regular file, found a character device" in result.stderr


# --- characters and numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, message",
    [
        ("a\x00b", "f.yaml:2:8: expected text without control characters, found U+0000 (NUL)"),
        ("a\x1b[31mb", "f.yaml:2:8: expected text without control characters, found U+001B (ESC)"),
        ("a\x07b", "f.yaml:2:8: expected text without control characters, found U+0007 (BEL)"),
        ("a\x7fb", "f.yaml:2:8: expected text without control characters, found U+007F (DEL)"),
        ("a\x85b", "f.yaml:2:8: expected text without control characters, found U+0085"),
        ('"a\\0b"', "f.yaml:2:7: name: expected text without control characters, found U+0000 (NUL)"),
        ('"a\\eb"', "f.yaml:2:7: name: expected text without control characters, found U+001B (ESC)"),
        ('"a\\rb"', "f.yaml:2:7: name: expected text without control characters, found U+000D (CR)"),
    ],
    ids=["nul", "esc", "bel", "del", "nel", "nul-escape", "esc-escape", "cr-escape"],
)
def test_control_characters_are_refused_with_their_line(value, message):
    text = HEAD.replace("name: env-a", f"name: {value}")
    assert problems(text) == [message]


def test_control_characters_in_a_key_and_a_comment():
    assert problems(HEAD + '"a\\x1bb": 1\n') == ["f.yaml:5:1: expected a key without control characters, found U+001B (ESC)"]
    assert problems(HEAD + "# a comment \x00\n") == ["f.yaml:5:13: expected text without control characters, found U+0000 (NUL)"]


# C1 controls (U+0080 to U+009F) are control characters too (terminals act on some, such as
# U+009B, the one-character CSI); U+00A0, the first character after them, is text.
@pytest.mark.parametrize("code", [0x80, 0x85, 0x9B, 0x9F])
def test_c1_control_characters_are_refused_in_values_and_keys(code):
    found = f"found U+{code:04X}"
    escaped = f"\\x{code:02x}"  # written as a YAML escape: only the reader's value check sees it
    assert problems(HEAD.replace("name: env-a", f'name: "a{escaped}b"')) == [f"f.yaml:2:7: name: expected text without control characters, {found}"]
    assert problems(HEAD + f'storage:\n  lifecycle:\n    prefix: "a{escaped}b"\n') == [
        f"f.yaml:7:13: storage.lifecycle.prefix: expected text without control characters, {found}"]
    assert problems(HEAD + f'"a{escaped}b": 1\n') == [f"f.yaml:5:1: expected a key without control characters, {found}"]
    assert problems(HEAD + f'tags:\n  "k{escaped}": v\n') == [f"f.yaml:6:3: tags: expected a key without control characters, {found}"]
    raw = HEAD.replace("name: env-a", f"name: a{chr(code)}b")  # the character itself, in the file
    assert problems(raw) == [f"f.yaml:2:8: expected text without control characters, {found}"]


def test_the_character_after_the_c1_controls_is_text():
    env = load_text(HEAD + 'storage:\n  lifecycle:\n    prefix: "a\\u00a0b\\u007eb"\n', "f.yaml").env
    assert env.storage.lifecycle.prefix == "a\u00a0b~b"
    env = load_text(HEAD + "storage:\n  lifecycle:\n    prefix: a\u00a0b\n", "f.yaml").env
    assert env.storage.lifecycle.prefix == "a\u00a0b"


def test_crlf_line_ends_and_tabs_in_values_are_fine():
    env = load_text(HEAD.replace("\n", "\r\n") + 'tags:\r\n  team: "a b"\r\n', "f.yaml").env
    assert env.tags == {"team": "a b"}


@pytest.mark.parametrize(
    "value, message",
    [
        ("9" * 5000, "expected a whole number of at most 18 digits, found one of 5000 digits"),
        ("1" + "0" * 18, "expected a whole number of at most 18 digits, found one of 19 digits"),
        ("0x" + "f" * 40, "expected a whole number of at most 18 digits, found one of 40 digits"),
        ("0x" + "f" * 16, "expected a whole number below 10**18, found 0xffffffffffffffff"),
        ("0100", "expected a number without leading zeros, found 0100: YAML 1.1 reads it as the octal number 64, "
         "YAML 1.2 as 100 (write the number you mean without the zeros, 0o... for octal, or text in quotes)"),
        ("-0017", "expected a number without leading zeros, found -0017: YAML 1.1 reads it as the octal number -15, "
         "YAML 1.2 as -17 (write the number you mean without the zeros, 0o... for octal, or text in quotes)"),
        ("0089", "expected a number without leading zeros, found 0089: YAML 1.1 reads it as a string, "
         "YAML 1.2 as 89 (write the number you mean without the zeros, 0o... for octal, or text in quotes)"),
    ],
    ids=["5000-digits", "19-digits", "long-hex", "hex-over", "leading-zero", "negative-leading-zero", "not-octal"],
)
def test_integers_out_of_range_or_ambiguous(value, message):
    assert problems(HEAD + f"compute:\n  max_cpus: {value}\n") == [f"f.yaml:6:13: compute.max_cpus: {message}"]


def test_eighteen_digits_reach_the_model():
    assert problems(HEAD + "compute:\n  max_cpus: 999999999999999999\n") == [
        "f.yaml:6:13: compute.max_cpus: expected a whole number from 1 to 100000, found 999999999999999999"
    ]


# --- YAML 1.2 core schema ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [
        ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"), ("Yes", "Yes"),
        ("12:30", "12:30"), ("1:02:03", "1:02:03"), ("2024-01-01", "2024-01-01"), ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
        ("1_000", "1_000"), ("0b101", "0b101"), ("=", "="), ("<<x", "<<x"), ("<<", "<<"),
        ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
        ("null", None), ("Null", None), ("~", None), ("", None),
        ("0", 0), ("-0", 0), ("+12", 12), ("0o17", 15), ("0x1F", 31), ("0", 0),
        ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5), ("-1.", -1.0), ("1E-2", 0.01), (".inf", float("inf")), ("-.Inf", float("-inf")),
        ("'yes'", "yes"), ('"0100"', "0100"), ("!!str 12", "12"), ("! 12", "12"), ("!!int 0o17", 15), ("!!float 2", 2.0),
        ("!!bool true", True), ("!!null ~", None),
    ],
)
def test_scalars_read_as_yaml_1_2_core(text, value):
    got = yamlsafe.parse(f"k: {text}\n", "f.yaml").data["k"]
    assert got == value and type(got) is type(value)


def test_nan_reads_as_a_float():
    value = yamlsafe.parse("k: .NaN\n", "f.yaml").data["k"]
    assert value != value


def test_yes_is_a_string_key_and_version_yes_is_refused():
    env = load_text(HEAD + "tags:\n  yes: on\n  shift: 12:30\n  since: 2024-01-01\n", "f.yaml").env
    assert env.tags == {"yes": "on", "shift": "12:30", "since": "2024-01-01"}
    assert problems(HEAD.replace("version: 1", "version: yes")) == ['f.yaml:1:10: version: expected 1, found "yes"']


def test_booleans_spelt_otherwise_show_what_yaml_read():
    assert problems(HEAD + "credentials:\n  user_name: TRUE\n") == [
        "f.yaml:6:14: credentials.user_name: expected a string (put it in quotes), found TRUE (YAML reads it as true)"
    ]
    assert problems(HEAD + "compute:\n  gpu: on\n") == ['f.yaml:6:8: compute.gpu: expected true or false, found "on"']


@pytest.mark.parametrize(
    "value, message",
    [
        ("!!binary Z2Vub21pY3M=", "expected a plain value, found the YAML tag !!binary"),
        ("!!timestamp 2024-01-01", "expected a plain value, found the YAML tag !!timestamp"),
        ("!Ref Team", "expected a plain value, found the YAML tag !Ref"),
        ("!!python/object:os.system x", "expected a plain value, found the YAML tag !!python/object:os.system"),
        ("!!int yes", 'expected a whole number for the tag !!int, found "yes"'),
        ("!!bool yes", 'expected true or false for the tag !!bool, found "yes"'),
        ("!!set {a: null}", "expected a plain mapping, found the YAML tag tag:yaml.org,2002:set"),
    ],
)
def test_tags_other_than_the_core_ones_are_refused(value, message):
    assert problems(HEAD + f"tags:\n  team: {value}\n") == [f"f.yaml:6:9: tags.team: {message}"]


# --- structure -------------------------------------------------------------------------------------


def test_merge_keys_own_keys_win_then_earlier_sources():
    text = HEAD + "x-a: &a {max_cpus: 8, min_cpus: 1}\nx-b: &b {max_cpus: 16, gpu: true}\ncompute:\n  <<: [*a, *b]\n  min_cpus: 2\n"
    source = yamlsafe.parse(text, "f.yaml")
    assert source.data["compute"] == {"min_cpus": 2, "max_cpus": 8, "gpu": True}
    assert source.problems == []
    # a merged key is located where it was written (in the anchored mapping)
    assert source.key_marks[("compute", "max_cpus")][:2] == (5, 10)
    assert source.key_marks[("compute", "gpu")][:2] == (6, 24)
    assert source.key_marks[("compute", "min_cpus")][:2] == (9, 3)


def test_merge_of_something_else_than_a_mapping():
    source = yamlsafe.parse("a:\n  <<: [1]\n  b: 2\n", "f.yaml")
    assert source.data == {"a": {"b": 2}}
    assert [str(p) for p in source.problems] == [
        "f.yaml:2:8: a: expected a mapping or a list of mappings after '<<' (a merge key), found something else"
    ]


def test_duplicate_keys_and_undefined_aliases_and_two_documents():
    assert problems(HEAD + "name: env-b\n") == ["f.yaml:5:1: name: expected each key once, found it again (first at line 2)"]
    assert problems(HEAD + "tags: *nope\n") == ["f.yaml:5:7: expected valid YAML, found a syntax error: found undefined alias 'nope'"]
    assert problems(HEAD + "---\nversion: 1\n") == ["f.yaml:5:1: expected a single YAML document, found a second one (a line '---' starts it)"]


def test_syntax_errors_keep_pyyaml_words():
    assert problems(HEAD + "tags: [a, b\nx: 1\n") == [
        "f.yaml:6:2: expected valid YAML, found a syntax error: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence that starts at line 5, column 7)"
    ]


# --- file names ------------------------------------------------------------------------------------


def test_display_name_escapes_bytes_that_are_not_utf8_and_control_characters():
    assert yamlsafe.display_name(os.fsdecode(b"env-\xff.yaml")) == "env-\\xff.yaml"
    assert yamlsafe.display_name(b"a\xe9\x1b.yaml") == "a\\xe9\\x1b.yaml"
    assert yamlsafe.display_name("caf\u00e9\n.yaml") == "caf\u00e9\\x0a.yaml"
    assert yamlsafe.display_name("x\ud800.yaml") == "x\\xed\\xa0\\x80.yaml"


def test_a_file_name_that_is_not_utf8(tmp_path):
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/env-\xff.yaml"))
    path.write_text(HEAD + "compute:\n  max_cpus: 0\n")
    with pytest.raises(SpecError) as err:
        load_file(path)
    assert err.value.problems[0].file.endswith("/env-\\xff.yaml")
    str(err.value).encode("utf-8")  # printable in any UTF-8 terminal
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "env-\\xff.yaml:6:13: compute.max_cpus" in result.stderr


def test_text_given_directly_is_capped_too():
    assert problems("#" * (yamlsafe.MAX_BYTES + 1)) == [f"f.yaml: expected a file of at most 1 MiB, found {yamlsafe.MAX_BYTES + 1} characters"]


def test_a_big_file_of_keys_stops_at_the_node_cap_quickly():
    text = "".join(f"k{i}: {i}\n" for i in range(60_000))  # about 800 KB
    start = time.perf_counter()
    assert problems(text) == ["f.yaml:5000:8: expected at most 10000 keys and values once aliases (*name) are expanded, found more"]
    assert time.perf_counter() - start < 2


def test_a_key_named_like_pydantics_key_marker():
    """Found by the fuzz test: a top-level key spelt "[key]" is an unknown key, not a crash."""
    assert problems('version: 1\nname: x1\nregion: eu-west-1\nwork_dir: s3://abc-bucket\n"[key]": 1\n') == [
        'f.yaml:5:1: ["[key]"]: unknown key; expected one of: version, name, region, work_dir, mode, tags, '
        "credentials, storage, compute, fsx, manual, head_job, account_id, assume_role, backend, platform, extends; "
        'found "[key]"'
    ]
