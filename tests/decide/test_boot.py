"""The boot steps (decide/boot.py): the AWS CLI bundle a user pins, and the hosts instances reach."""

from __future__ import annotations

import email

import pytest

import towergen

HEAD = "version: 1\nname: {name}\nregion: eu-west-1\naccount_id: '123456789012'\nwork_dir: s3://{name}-boot-test/work\n"


VARIANTS = {
    "bundle": "compute:\n  aws_cli:\n    url: https://mirror.example.org/miniconda-awscli.tar.gz\n"
    "    sha256: " + "ab" * 32 + "\n",
    "fusion-no-nvme": "compute:\n  fusion: true\n  instance_types: [m5.xlarge, c6id]\n",
    "existing-fsx": "fsx:\n  mount_path: /mnt/fsx\n  dns_name: fs-0123456789abcdef0.fsx.eu-west-1.amazonaws.com\n"
    "  mount_name: abcdefgh\ncompute:\n  ebs_autoscale: {initial_size_gib: 100}\n",
}


def user_data(tftpl: str, variables: dict[str, str] | None = None) -> str:
    """What the launch template holds once Terraform's templatefile has filled the template in:
    $${ and %%{ become ${ and %{, and each ${var} its value (build.check_template allows no other
    sequence, so this is the whole of templatefile's work here)."""
    variables = variables or {}
    out, i = [], 0
    while i < len(tftpl):
        if tftpl.startswith(("$${", "%%{"), i):
            out.append(tftpl[i + 1 : i + 3])
            i += 3
        elif tftpl.startswith("${", i):
            end = tftpl.index("}", i)
            out.append(variables[tftpl[i + 2 : end]])
            i = end + 1
        else:
            out.append(tftpl[i])
            i += 1
    return "".join(out)


def parts(text: str) -> list[tuple[str, str, str]]:
    """(file name, content type, script) of each part, as Python's email package reads them."""
    message = email.message_from_string(text)
    assert message.is_multipart() and message.get_content_type() == "multipart/mixed"
    return [
        (p.get_filename(), p.get_content_type(), p.get_payload(decode=True).decode("ascii"))
        for p in message.get_payload()
    ]


def render_one(tmp_path, extra: str, name: str = "t1", head: str = HEAD):
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(head.format(name=name) + extra)
    result = towergen.render([spec], tmp_path / "out")
    return result, tmp_path / "out" / name


def test_aws_cli_bundle_is_pinned_by_the_user(tmp_path):
    extra = VARIANTS["bundle"]
    _, folder = render_one(tmp_path, extra)
    assert "cliPath = '/home/ec2-user/miniconda/bin/aws'" in (folder / "nextflow.config").read_text()
    script = {n: s for n, _, s in parts(user_data((folder / "user-data.tftpl").read_text()))}["30-aws-cli.sh"]
    assert "fetch https://mirror.example.org/miniconda-awscli.tar.gz " + "ab" * 32 in script
    assert "tar -xzf" in script and "awscli.amazonaws.com" not in script


@pytest.mark.parametrize(
    ("aws_cli", "key", "expected"),
    [
        ("{url: http://m.example.org/a.tar.gz, sha256: " + "ab" * 32 + "}", "compute.aws_cli.url", "an https:// URL"),
        ("{url: https://m.example.org/a.tar.gz, sha256: ABC}", "compute.aws_cli.sha256", "a sha256 of 64 lowercase hex"),
        ("{url: https://m.example.org/a.tar.gz}", "compute.aws_cli.sha256", None),
    ],
)
def test_aws_cli_key_is_checked(tmp_path, aws_cli, key, expected):
    spec = tmp_path / "t1.yaml"
    spec.write_text(HEAD.format(name="t1") + f"compute:\n  aws_cli: {aws_cli}\n")
    with pytest.raises(towergen.SpecError) as err:
        towergen.render([spec], tmp_path / "out")
    assert [p.path for p in err.value.problems] == [key]
    if expected:
        assert expected in err.value.problems[0].message
    assert not (tmp_path / "out").exists()
