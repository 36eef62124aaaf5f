"""platform.tf (issue 16), proven without the seqera provider binary.

* Every rendered platform.tf (the example's golden file and variants that cover both credential
  modes, both workspace forms, manual mode, labels, a self-hosted platform) passes the provider's
  contract: tests/contracts/seqera-provider-schema.json, derived from the provider's source at
  v0.42.0, through seqera_schema.check_hcl (argument paths, required arguments, plan-time
  validators: name pattern, the S3 work_dir, Fusion/Wave/NVMe dependencies, 1024-byte scripts,
  label rules, the provider pin, write-only arguments and the Terraform version).
* One source of truth: platform-compute-env.json, the provider's config and the Terraform
  outputs agree field by field, names mapped as the provider maps them (each config argument's
  api_name in the contract).
* Without platform:, nothing mentions the seqera provider; an emulator run leaves platform.tf out
  and a stand-in gives the AWS part the one value it reads from it.
"""

from __future__ import annotations

import json
import re

import hcl2
import pytest
import seqera_schema as ss

from conftest import EXAMPLES, GOLDEN
from towergen.loader.validate import load_text
from towergen.renderer.apply_time import ROLE_ARN_REFERENCES
from towergen.renderer.environment import render_environment
from towergen.renderer.files import BACKEND_FILE, PLATFORM_JSON, PLATFORM_TF
from towergen.renderer.platform import CONFIG_ARGUMENTS, EXTERNAL_ID_LOCAL, NOT_CONFIG
from towergen.run.emulator import EMULATOR_EXTERNAL_ID, PLATFORM_STANDIN_FILE, platform_standin_hcl
from towergen.run.targets import target_named
from towergen.run.workspace import Subject
from towergen.spec.model import SEQERA_CLOUD_PRINCIPAL

SCHEMA = ss.load_schema()
CONFIG = {p.removeprefix("config."): a for p, a in SCHEMA["resources"]["seqera_aws_batch_ce"]["attributes"].items() if p.count(".") == 1 and p.startswith("config.")}

HEAD = "version: 1\nname: {name}\nregion: {region}\nwork_dir: {work_dir}\n"
VARIANTS = {
    # role credentials, the workspace by name, labels from the tags (one tag cannot be one)
    "role-by-name": HEAD.format(name="role-by-name", region="eu-west-1", work_dir="s3://towergen-role-by-name/work")
    + "account_id: '123456789012'\ntags: {team: genomics, cost-centre: 'CC:1'}\ncompute: {fusion: true, instance_types: [c6id]}\n"
    "platform: {workspace: acme/genomics}\n",
    # keys, the workspace by id, a self-hosted platform, manual mode, no account_id: the job
    # roles' ARNs are known only once Terraform has made them
    "keys-by-id": HEAD.format(name="keys-by-id", region="us-east-1", work_dir="s3://towergen-existing/work")
    + "mode: manual\nmanual: {head_queue: q-head, compute_queue: q-work}\nstorage: {create_bucket: false}\n"
    "platform:\n  workspace: 138659136604200\n  credentials: keys\n  server_url: https://platform.example.org/api\n"
    "  name: Keys_By-Id\n  labels: {owner: genomics-team, run: '${workflowId}'}\n",
    # keys with account_id, on-demand without Fusion (the AWS CLI path), no labels at all
    "keys-on-demand": HEAD.format(name="keys-on-demand", region="eu-central-1", work_dir="s3://towergen-keys-on-demand/w")
    + "account_id: '123456789012'\ntags: {team: genomics}\ncompute: {provisioning: on-demand}\n"
    "head_job: {cpus: 2, memory_mib: 8192}\nplatform: {workspace: acme/genomics, credentials: keys, labels: {}}\n",
    # a self-hosted platform's principal, EBS autoscale (process.scratch in nextflowConfig)
    "self-hosted-role": HEAD.format(name="self-hosted-role", region="us-west-2", work_dir="s3://towergen-self-hosted")
    + "account_id: '210987654321'\ncompute: {ebs_autoscale: true}\n"
    "platform:\n  workspace: 42\n  server_url: https://seqera.example.org/api\n"
    "  trusted_principal_arn: arn:aws:iam::210987654321:role/seqera-platform\n",
    # Fusion on types without NVMe: Fusion and Wave, no NVMe storage
    "fusion-no-nvme": HEAD.format(name="fusion-no-nvme", region="eu-west-2", work_dir="s3://towergen-fusion-no-nvme/a/b")
    + "account_id: '123456789012'\ncompute: {fusion: true, instance_types: [m5.xlarge]}\nplatform: {workspace: acme/genomics}\n",
}


# The import file's fields that name a job role: without account_id, known only after apply.
ROLE_FIELDS = {"headJobRole": "head_job", "computeJobRole": "compute_job", "executionRole": "execution"}


def _render(name: str, text: str) -> tuple[object, dict[str, str]]:
    loaded = load_text(text, f"{name}.yaml")
    files = render_environment(loaded.resolved)
    if PLATFORM_JSON not in files:
        # no account_id, so no import file: the one the same file renders with an account, to
        # compare the config with (the job roles aside, which the config reads after apply)
        with_account = render_environment(load_text(text + "account_id: '123456789012'\n", f"{name}.yaml").resolved)
        files = {**files, PLATFORM_JSON + " (with account_id)": with_account[PLATFORM_JSON]}
    return loaded, files


@pytest.fixture(scope="module")
def trees() -> dict[str, tuple[object, dict[str, str]]]:
    """Every environment with platform: its resolved facts and rendered files."""
    out = {name: _render(name, text) for name, text in VARIANTS.items()}
    for path in EXAMPLES:
        loaded, files = _render(path.stem, path.read_text(encoding="utf-8"))
        if PLATFORM_TF in files:
            out[path.stem] = (loaded, files)
    return out


def _doc(text: str) -> dict:
    return hcl2.loads(text, serialization_options=ss._OPTIONS)


def _blocks(doc: dict, kind: str, type_name: str) -> dict[str, dict]:
    found = {}
    for entry in doc.get(kind, []):
        for t, named in entry.items():
            if t.strip('"') == type_name:
                for n, body in named.items():
                    found[n.strip('"')] = body
    return found


def _outputs(text: str) -> dict[str, object]:
    return {k.strip('"'): ss.value_of(v["value"]) for entry in _doc(text).get("output", []) for k, v in entry.items()}


# --- the provider's contract -----------------------------------------------------------------


def test_the_example_renders_a_platform_file_that_is_the_golden_one(trees):
    assert "platform" in trees, "examples/platform.yaml renders platform.tf"
    _, files = trees["platform"]
    assert files[PLATFORM_TF] == (GOLDEN / "platform-eu-west-1" / PLATFORM_TF).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [*VARIANTS, "platform"])
def test_every_platform_file_passes_the_providers_contract(trees, name):
    """Errors and warnings alike: the root's files read as one module, as Terraform reads them."""
    _, files = trees[name]
    text = "\n".join(t for n, t in sorted(files.items()) if n.endswith(".tf"))
    assert [str(p) for p in ss.check_hcl(text)] == []
    doc = _doc(files[PLATFORM_TF])
    # what the check covered: every covered type the file uses
    assert _blocks(doc, "resource", "seqera_aws_batch_ce") and _blocks(doc, "resource", "seqera_aws_credential")


def test_the_checker_would_catch_a_broken_platform_file(trees):
    """The contract check is not vacuous on towergen's own output: break the rendered file the
    ways the provider would refuse, and each break is found."""
    _, files = trees["role-by-name"]
    text = files[PLATFORM_TF]
    breaks = {
        '"s3://towergen-role-by-name/work"': ('"s3://towergen-role-by-name/work/"', "must not end with a slash"),
        "enable_wave          = true": ("enable_wave          = false", "'enable_wave' must also be set to true"),
        'name           = "role-by-name"': ('name           = "role by name"', "must match"),
        'version = "~> 0.42.0"': ('version = "~> 0.41.0"', "does not admit 0.42.0"),
        'value        = "genomics"': ('value        = "genomics--x"', "label value must be"),
    }
    for old, (new, message) in breaks.items():
        assert text.count(old) == 1, old
        got = [str(p) for p in ss.check_hcl(text.replace(old, new))]
        assert any(message in g for g in got), (old, got)


def test_the_pin_and_the_token():
    """~> 0.42.0: a 0.x public preview may change its schema in any minor release; the token
    only ever comes from the environment."""
    text = (GOLDEN / "platform-eu-west-1" / PLATFORM_TF).read_text(encoding="utf-8")
    assert re.search(r'version = "~> 0\.42\.0"', text)
    doc = _doc(text)
    providers = [body for entry in doc["provider"] for label, body in entry.items() if label.strip('"') == "seqera"]
    assert len(providers) == 1 and "bearer_auth" not in providers[0]
    assert "TOWER_ACCESS_TOKEN" in text


def test_keys_need_terraform_1_11_and_roles_do_not(trees):
    for name, (loaded, files) in trees.items():
        version = re.search(r'required_version = "([^"]+)"', files["versions.tf"]).group(1)
        keys = loaded.env.platform.credentials == "keys"
        assert (version == ">= 1.11.0") == keys, (name, version)


# --- one source of truth -------------------------------------------------------------------------


def test_the_mapping_is_the_providers():
    """towergen's JSON name -> config argument table is the provider's own (each argument's api_name)."""
    for api, argument in CONFIG_ARGUMENTS.items():
        assert CONFIG[argument]["api_name"] == api, (api, argument)
    # every manual-form argument the provider has is in the table (forge, DRAGEN, EFS/FSx and
    # deprecated ones are Batch Forge's or legacy, not a manually registered environment's)
    manual = {a for a, spec in CONFIG.items() if "api_name" in spec and "deprecated" not in spec
              and not a.startswith(("forge", "dragen")) and a != "volumes"}
    assert manual == set(CONFIG_ARGUMENTS.values())


# Where each Terraform output that carries a platform field gets its value (what towergen's root and
# modules say; the emulator test compares the applied values).
OUTPUT_OF = {
    "workDir": "work_dir",
    "headQueue": "head_queue_name",
    "computeQueue": "compute_queue_name",
    "headJobRole": "head_job_role_arn",
    "computeJobRole": "compute_job_role_arn",
}


def _output_value(files: dict[str, str], output: str, account: str | None) -> object:
    """The value of one output of the root, worked out from the rendered files as Terraform
    would (references followed into main.tf; the modules pass these values through)."""
    expr = _outputs(files["outputs.tf"])[output]
    main = _doc(files["main.tf"])
    ref = expr.expr.strip("${}") if isinstance(expr, ss.Unknown) else None
    if ref == "local.work_dir":
        return ss.value_of(main["locals"][0]["work_dir"])
    modules = {k.strip('"'): v for entry in main.get("module", []) for k, v in entry.items()}
    if ref in ("module.compute.head_queue_name", "module.compute.work_queue_name"):
        return ss.value_of(modules["compute"][ref.rsplit(".", 1)[1]])
    if ref in ("data.aws_batch_job_queue.head.name", "data.aws_batch_job_queue.compute.name"):
        return ss.value_of(_blocks(main, "data", "aws_batch_job_queue")[ref.split(".")[2]]["name"])
    if ref in ("module.iam.head_job_role_arn", "module.iam.compute_job_role_arn"):
        actor = ref.split(".")[2].removesuffix("_role_arn")
        name = ss.value_of(modules["iam"]["role_names"])[actor]
        return f"arn:aws:iam::{account}:role/{name}" if account else ss.Unknown(expr.expr)
    raise AssertionError(f"{output}: no rule for {expr!r}")


@pytest.mark.parametrize("name", [*VARIANTS, "platform"])
def test_import_file_config_and_outputs_agree_field_by_field(trees, name):
    loaded, files = trees[name]
    r = loaded.resolved
    if r.role_arns is None:
        assert PLATFORM_JSON not in files
        fields = {k: v for k, v in json.loads(files[PLATFORM_JSON + " (with account_id)"]).items() if k not in ROLE_FIELDS}
    else:
        fields = json.loads(files[PLATFORM_JSON])
    doc = _doc(files[PLATFORM_TF])
    (ce,) = _blocks(doc, "resource", "seqera_aws_batch_ce").values()
    config = ss.value_of(ce["config"])
    outputs = _outputs(files["outputs.tf"])
    seen = set()
    for argument, value in config.items():
        api = CONFIG[argument]["api_name"]
        seen.add(api)
        if isinstance(value, ss.Unknown):
            # known only after apply: the config reads the module output the root's output reads
            assert r.role_arns is None and api in ROLE_FIELDS and api not in fields, (argument, value)
            assert value.expr == "${" + ROLE_ARN_REFERENCES[ROLE_FIELDS[api]] + "}", (argument, value)
            if api in OUTPUT_OF:
                assert value.expr == outputs[OUTPUT_OF[api]].expr, (argument, value)
            continue
        assert api in fields and fields[api] == value, (argument, value, fields.get(api))
        if api in OUTPUT_OF:
            assert _output_value(files, OUTPUT_OF[api], loaded.env.account_id) == value, api
    # nothing of the import file is left out of the config
    assert set(fields) - set(NOT_CONFIG) <= seen
    if r.role_arns is None:
        # the config reads the job roles after apply; the output holds the complete import file
        assert {"headJobRole", "computeJobRole"} <= seen and "platform_compute_env_json" in outputs
    # the labels: the import file's labels are the seqera_labels the environment names
    labels = _blocks(doc, "resource", "seqera_labels")
    ids = [ref.expr for ref in ss.value_of(ce.get("label_ids", []))]
    named = [labels[re.fullmatch(r"\$\{seqera_labels\.(\S+)\.label_id\}", i).group(1)] for i in ids]
    assert [{"name": ss.value_of(b["name"]), "value": ss.value_of(b["value"]), "resource": b["resource"]} for b in named] == fields.get("labels", [])
    assert len(labels) == len(ids)


def test_labels_are_the_tags_that_can_be_labels(trees):
    loaded, files = trees["role-by-name"]
    assert json.loads(files[PLATFORM_JSON])["labels"] == [{"name": "team", "value": "genomics", "resource": True}]
    assert [w.path for w in loaded.warnings] == ["tags.cost-centre"]
    # with platform.labels, exactly those; {} is none
    assert "labels" not in json.loads(trees["keys-on-demand"][1][PLATFORM_JSON])
    assert "label_ids" not in trees["keys-on-demand"][1][PLATFORM_TF]


# --- the credential's wiring ---------------------------------------------------------------------


def test_role_credentials_wire_the_external_id_into_the_trust(trees):
    _, files = trees["role-by-name"]
    doc = _doc(files[PLATFORM_TF])
    (cred,) = _blocks(doc, "resource", "seqera_aws_credential").values()
    # the role's ARN from account_id and the role's fixed name: no reference to the role (no cycle)
    assert ss.value_of(cred["assume_role_arn"]) == "arn:aws:iam::123456789012:role/role-by-name-platform"
    assert ss.value_of(cred["use_external_id"]) is True and "depends_on" not in cred
    assert ss.value_of(doc["locals"][0][EXTERNAL_ID_LOCAL]).expr == "${seqera_aws_credential.this.external_id}"
    main = _doc(files["main.tf"])
    iam = next(v for entry in main["module"] for k, v in entry.items() if k.strip('"') == "iam")
    assert ss.value_of(iam["credentials_type"]) == "role"
    assert ss.value_of(iam["trusted_principal_arn"]) == SEQERA_CLOUD_PRINCIPAL
    assert ss.value_of(iam["external_id"]).expr == f"${{local.{EXTERNAL_ID_LOCAL}}}"
    assert "create_user" not in iam
    # the environment is registered once the role, its trust and its policies exist
    (ce,) = _blocks(doc, "resource", "seqera_aws_batch_ce").values()
    assert [d.expr for d in ss.value_of(ce["depends_on"])] == ["${module.iam}", "${module.storage}", "${module.compute}"]
    # a self-hosted platform's own principal
    main = _doc(trees["self-hosted-role"][1]["main.tf"])
    iam = next(v for entry in main["module"] for k, v in entry.items() if k.strip('"') == "iam")
    assert ss.value_of(iam["trusted_principal_arn"]) == "arn:aws:iam::210987654321:role/seqera-platform"


def test_keys_credentials_are_the_users_access_key(trees):
    _, files = trees["keys-by-id"]
    doc = _doc(files[PLATFORM_TF])
    (cred,) = _blocks(doc, "resource", "seqera_aws_credential").values()
    assert ss.value_of(cred["mode"]) == "keys"
    assert cred["access_key"] == "${module.iam.access_key_id}" and cred["secret_key"] == "${module.iam.secret_access_key}"
    assert cred["depends_on"] == ["${module.iam}"]
    assert EXTERNAL_ID_LOCAL not in files[PLATFORM_TF] + files["main.tf"]
    assert re.search(r'credentials_type += "user"', files["main.tf"]) and re.search(r"create_user += true", files["main.tf"])


# --- without platform:, and on an emulator -------------------------------------------------------


def test_without_platform_nothing_mentions_the_seqera_provider():
    for path in EXAMPLES:
        if path.stem == "platform":
            continue
        loaded, files = _render(path.stem, path.read_text(encoding="utf-8"))
        assert loaded.resolved.platform is None
        assert PLATFORM_TF not in files
        assert not any("seqera_" in t or "seqeralabs" in t for t in files.values()), path.stem


def test_platform_adds_platform_tf_and_changes_only_what_it_must():
    """The same file with and without platform:: the other files differ only where the platform
    decides (the credential's identity, the Terraform version for write-only keys, the labels)."""
    text = VARIANTS["keys-on-demand"]
    _, without = _render("keys-on-demand", text.replace("platform: {workspace: acme/genomics, credentials: keys, labels: {}}\n", ""))
    _, with_ = _render("keys-on-demand", text)
    assert set(with_) - set(without) == {PLATFORM_TF}
    changed = {n for n in without if without[n] != with_[n]}
    assert changed == {"versions.tf", PLATFORM_JSON}  # >= 1.11.0; labels: {} = none


def _local_refs(text: str) -> set[str]:
    return set(re.findall(r"\blocal\.([A-Za-z_][A-Za-z0-9_]*)", text))


def _locals_defined(text: str) -> set[str]:
    return {k for block in _doc(text).get("locals", []) for k in block if not k.startswith("__")}


@pytest.mark.parametrize("name", [*VARIANTS, "platform"])
def test_the_rest_of_the_root_reads_from_platform_tf_only_what_the_stand_in_gives(trees, name):
    """Leaving platform.tf out must leave a valid AWS root: no other file names a seqera object,
    and the locals they read from platform.tf are the ones the emulator's stand-in defines."""
    _, files = trees[name]
    rest = {n: t for n, t in files.items() if n.endswith(".tf") and n != PLATFORM_TF}
    assert not any("seqera_" in t for t in rest.values())
    defined_elsewhere = set().union(*(_locals_defined(t) for t in rest.values()))
    needed = set().union(*(_local_refs(t) for t in rest.values())) - defined_elsewhere
    standin = _locals_defined(platform_standin_hcl())
    assert needed <= standin and needed <= _locals_defined(files[PLATFORM_TF])


def test_an_emulator_run_leaves_platform_tf_out(tmp_path):
    """Rendered for the run, or copied from a rendered folder: no platform.tf (nor backend.tf),
    and the stand-in in its place."""
    import towergen

    src = tmp_path / "p.yaml"
    src.write_text(VARIANTS["role-by-name"] + "backend: {bucket: acme-towergen-state}\n", encoding="utf-8")
    loaded = towergen.load(src)
    out = tmp_path / "infra"
    towergen.render([src], out)
    assert (out / "role-by-name" / PLATFORM_TF).is_file() and (out / "role-by-name" / BACKEND_FILE).is_file()
    target = target_named("local")
    for subject in (Subject("role-by-name", loaded=loaded), Subject("role-by-name", loaded=loaded, rendered=out)):
        with target.workspace(subject) as ws:
            names = {p.name for p in ws.root.iterdir()}
            assert PLATFORM_TF not in names and BACKEND_FILE not in names
            assert PLATFORM_STANDIN_FILE in names and "main.tf" in names
            assert EMULATOR_EXTERNAL_ID in (ws.root / PLATFORM_STANDIN_FILE).read_text(encoding="utf-8")
    # without platform:, no stand-in
    plain = load_text(HEAD.format(name="plain", region="eu-west-1", work_dir="s3://towergen-plain"), "plain.yaml")
    with target.workspace(Subject("plain", loaded=plain)) as ws:
        assert PLATFORM_STANDIN_FILE not in {p.name for p in ws.root.iterdir()}


@pytest.mark.terraform
def test_terraform_fmt_accepts_every_platform_file(trees, terraform, tmp_path):
    """terraform fmt needs no provider: every variant's platform.tf is as fmt writes it."""
    for name, (_, files) in trees.items():
        (tmp_path / f"{name}.tf").write_text(files[PLATFORM_TF], encoding="utf-8")
    result = terraform.run("fmt", "-check", "-list=true", "-no-color", str(tmp_path), cwd=tmp_path, check=False)
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}"


def test_a_platform_run_against_aws_asks_for_the_token_first(tmp_path, monkeypatch):
    """--target aws on a folder with platform.tf stops before Terraform when TOWER_ACCESS_TOKEN
    is unset (the provider's only source of the token that towergen supports)."""
    from towergen.errors import TowergenError
    from towergen.run.workspace import Workspace

    root = tmp_path / "env"
    root.mkdir()
    target = target_named("aws")
    ws = Workspace("env", root, target)
    monkeypatch.delenv("TOWER_ACCESS_TOKEN", raising=False)
    target.check_services(ws, "plan")  # no platform.tf: nothing to ask
    (root / PLATFORM_TF).write_text("# platform\n", encoding="utf-8")
    with pytest.raises(TowergenError, match="set TOWER_ACCESS_TOKEN"):
        target.check_services(ws, "plan")
    monkeypatch.setenv("TOWER_ACCESS_TOKEN", "x")
    target.check_services(ws, "apply")


def test_a_field_the_provider_has_no_argument_for_stops_the_render(trees):
    """A field added to the import file is either mapped or refused, never silently dropped;
    a list of objects (environment) is written as the provider's nested list."""
    from towergen.errors import RenderError
    from towergen.renderer.platform import config_arguments

    loaded, files = trees["role-by-name"]
    fields = json.loads(files[PLATFORM_JSON])
    with pytest.raises(RenderError, match="the platform field dragenQueue has no argument"):
        config_arguments(loaded.resolved, {**fields, "dragenQueue": "q"})
    env = [{"name": "NXF_OPTS", "value": "-Xmx2g", "head": True, "compute": False}]
    args = dict(config_arguments(loaded.resolved, {**fields, "environment": env}))
    text = f"x = {args['environment']}\n"
    assert ss.value_of(_doc(text)["x"]) == env


def test_leave_out_platform_on_a_copy(tmp_path):
    from towergen.run.emulator import leave_out_platform

    (tmp_path / "main.tf").write_text("# main\n", encoding="utf-8")
    assert leave_out_platform(tmp_path) is False and not (tmp_path / PLATFORM_STANDIN_FILE).exists()
    (tmp_path / PLATFORM_TF).write_text("# platform\n", encoding="utf-8")
    assert leave_out_platform(tmp_path) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["main.tf", PLATFORM_STANDIN_FILE]
