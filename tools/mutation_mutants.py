"""The mutants tools/mutation.py plants, one at a time: small, realistic mistakes over the render
path (spec, loader, decide, renderer, output), the templates and the Terraform modules.

Each mutant is a list of exact text replacements in files of the repository; every ``old`` must
occur exactly once in its file (``python tools/mutation.py --check`` says which no longer do
after the code moved: fix the mutant, do not drop it silently). ``kind`` groups mutants by the
kind of mistake (issue 18's classes: escaping, defaults, rules, storage, artifacts, writer, YAML
reader, IAM, launch template, user-data); ``issue`` marks the ones issue 18 found surviving or
caught only slowly or by accident.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    kind: str
    what: str  # the mistake, in words
    edits: tuple[tuple[str, str, str], ...]  # (file, old, new)
    issue: bool = False  # one of issue 18's survivors (or caught only slowly / by accident)


def m(id: str, kind: str, what: str, *edits: tuple[str, str, str], issue: bool = False) -> Mutant:
    return Mutant(id, kind, what, tuple(edits), issue)


MUTANTS: tuple[Mutant, ...] = (
    # --- issue 18: the five survivors -------------------------------------------------------------
    m("guard-fsx", "storage", "dispose: false no longer guards a file system towergen creates (beside a bucket)",
      ("towergen/decide/resolved.py", "        if fsx_create:\n            guarded.append(GUARD_FILE_SYSTEM)",
       "        if fsx_create and not create_bucket:\n            guarded.append(GUARD_FILE_SYSTEM)"), issue=True),
    m("user-name-65", "rules", "the IAM user-name limit moved from 64 to 65",
      ("towergen/loader/rules.py", "IAM_USER_NAME_MAX = 64", "IAM_USER_NAME_MAX = 65"), issue=True),
    m("fsx-size-1200", "rules", "any multiple of 1200 GiB accepted for every FSx deployment type",
      ("towergen/loader/rules.py", "        ok = size in (1200, 2400) or size % 3600 == 0", "        ok = size % 1200 == 0"),
      ("towergen/loader/rules.py", "        ok = size == 1200 or size % 2400 == 0", "        ok = size % 1200 == 0"), issue=True),
    m("nvme-families-only", "defaults", "NVMe detection answers for families only: a sized type (m6id.2xlarge) has none",
      ("towergen/decide/scratch.py", "    return instances.has_nvme(instance_type)\n",
       "    return instances.family_of(instance_type) == instance_type and instances.has_nvme(instance_type)\n"), issue=True),
    m("c1-in-values", "reader", "C1 control characters (U+0080-U+009F) accepted in values and keys",
      ("towergen/spec/reader.py", '_CONTROL_IN_VALUE_RE = re.compile(r"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]")',
       '_CONTROL_IN_VALUE_RE = re.compile(r"[\\x00-\\x08\\x0b-\\x1f\\x7f]")'), issue=True),
    # --- issue 18: caught only by the slow tier or by accident ---------------------------------------
    m("iam-extra-create", "iam", "the forge policy widened by a Create* action",
      ("modules/iam/main.tf", '        "batch:UpdateJobQueue",\n', '        "batch:UpdateJobQueue",\n        "batch:CreateComputeEnvironment",\n'), issue=True),
    m("iam-passrole-star", "iam", "PassRole of the job roles widened to every role",
      ("modules/iam/main.tf", "    resources = local.job_role_arns\n", '    resources = ["*"]\n'), issue=True),
    m("iam-no-external-id", "iam", "the platform role's trust without its ExternalId condition",
      ("modules/iam/main.tf", '''
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
''', "\n"), issue=True),
    m("fetch-unverified", "user-data", "fetch() keeps a download without checking its sha256",
      ("templates/userdata/_fetch.sh.j2", 'if ! echo "$sha256  $file.part" | sha256sum --check --status; then',
       'if ! test -s "$file.part"; then'), issue=True),
    m("bundle-curl", "user-data", "the AWS CLI bundle downloaded with curl, its checksum only in a comment",
      ("templates/userdata/aws-cli-bundle.sh.j2", 'fetch {{ bundle.url }} {{ bundle.sha256 }} "$bundle"',
       'curl -fsSL -o "$bundle" {{ bundle.url }}  # sha256 {{ bundle.sha256 }}'), issue=True),
    # --- decisions the goldens carried alone -------------------------------------------------------
    m("allocation-default", "defaults", "spot's default allocation strategy changed",
      ("towergen/decide/resolved.py", 'DEFAULT_ALLOCATION = {"spot": "SPOT_PRICE_CAPACITY_OPTIMIZED"',
       'DEFAULT_ALLOCATION = {"spot": "SPOT_CAPACITY_OPTIMIZED"'), issue=True),
    m("spot-attempts", "defaults", "Nextflow's spot attempts changed",
      ("towergen/decide/resolved.py", "SPOT_ATTEMPTS = 5", "SPOT_ATTEMPTS = 3"), issue=True),
    m("managed-default", "defaults", "the AWS managed policies' default flipped (on in forge, off in manual)",
      ("towergen/decide/resolved.py", "(managed if managed is not None else not forge)", "(managed if managed is not None else forge)"), issue=True),
    m("cli-sha", "artifacts", "the pinned AWS CLI's sha256 mistyped",
      ("towergen/decide/artifacts.py", '"8d26ffa2e9427804a9f8928c692ee83e1c88456e0519a69e63bc992caf2b2339"',
       '"8d26ffa2e9427804a9f8928c692ee83e1c88456e0519a69e63bc992caf2b2338"'), issue=True),
    m("cli-version", "artifacts", "the AWS CLI version moved without its checksums",
      ("towergen/decide/artifacts.py", 'AWS_CLI_VERSION = "2.23.6"', 'AWS_CLI_VERSION = "2.23.7"'), issue=True),
    m("ebs-commit", "artifacts", "amazon-ebs-autoscale's pinned commit moved without its checksums",
      ("towergen/decide/artifacts.py", 'EBS_AUTOSCALE_COMMIT = "8c8ac28914bf9302e4f5821ba99daac6e7fc05eb"',
       'EBS_AUTOSCALE_COMMIT = "8c8ac28914bf9302e4f5821ba99daac6e7fc05ec"')),
    m("provider-pin", "defaults", "the AWS provider's version constraint loosened",
      ("templates/root/versions.tf.j2", 'version = ">= 5.100, < 7.0"', 'version = ">= 5.100"')),
    # --- escaping ------------------------------------------------------------------------------------
    m("hcl-percent", "escaping", "%{ no longer escaped in HCL strings (a Terraform template directive)",
      ("towergen/renderer/escape.py", '        if ch in "$%" and i + 1 < n and value[i + 1] == "{":',
       '        if ch == "$" and i + 1 < n and value[i + 1] == "{":')),
    m("hcl-c1", "escaping", "C1 controls written raw into HCL strings",
      ("towergen/renderer/escape.py", "    return o < 0x20 or 0x7F <= o <= 0x9F or ch in \"\\u2028\\u2029\"",
       "    return o < 0x20 or o == 0x7F or ch in \"\\u2028\\u2029\"")),
    m("groovy-quote", "escaping", "a single quote no longer escaped in nextflow.config strings",
      ("towergen/renderer/escape.py", "        elif ch == \"'\":\n            out.append(\"\\\\'\")\n",
       "        elif ch == \"'\":\n            out.append(\"'\")\n")),
    m("tftpl-percent", "escaping", "%{ no longer escaped in the user-data template",
      ("towergen/renderer/escape.py", '    return text.replace("${", "$${").replace("%{", "%%{")', '    return text.replace("${", "$${")')),
    # --- defaults and decisions ----------------------------------------------------------------------
    m("fsx-throughput-default", "defaults", "PERSISTENT_2's default throughput changed",
      ("towergen/decide/resolved.py", 'FSX_DEFAULT_THROUGHPUT = {"PERSISTENT_1": 200, "PERSISTENT_2": 250}',
       'FSX_DEFAULT_THROUGHPUT = {"PERSISTENT_1": 200, "PERSISTENT_2": 125}')),
    m("unschedulable-timeout", "defaults", "the RUNNABLE job timeout shortened",
      ("towergen/decide/resolved.py", "UNSCHEDULABLE_JOB_TIMEOUT_SECONDS = 4 * 3600", "UNSCHEDULABLE_JOB_TIMEOUT_SECONDS = 3600")),
    m("head-queue-cpus", "defaults", "the head queue's default vCPUs changed",
      ("towergen/spec/model.py", "        8, description=\"vCPUs of the head queue's own on-demand CPU compute environment",
       "        4, description=\"vCPUs of the head queue's own on-demand CPU compute environment")),
    m("fusion-boot-disk", "defaults", "Fusion without NVMe keeps the 50 GiB boot disk",
      ("towergen/decide/scratch.py", "FUSION_BOOT_DISK_GIB = 100", "FUSION_BOOT_DISK_GIB = 50")),
    m("dirty-bytes", "defaults", "Fusion's writeback limit changed",
      ("towergen/decide/scratch.py", "DIRTY_BYTES = 1258291200", "DIRTY_BYTES = 125829120")),
    m("head-job-memory", "defaults", "the head job's default memory changed",
      ("towergen/spec/model.py", "Field(4096, description=\"memory of the head job, MiB\")", "Field(2048, description=\"memory of the head job, MiB\")")),
    m("gpu-families", "defaults", "optimal with GPU lists a family without NVIDIA GPUs",
      ("towergen/decide/scratch.py", 'GPU_DEFAULT_FAMILIES = ("g4dn", "g5", "g6")', 'GPU_DEFAULT_FAMILIES = ("g4dn", "g5", "g4ad")')),
    # --- rules ---------------------------------------------------------------------------------------
    m("min-above-max", "rules", "min_cpus equal to max_cpus refused",
      ("towergen/loader/rules.py", "        if c.min_cpus > c.max_cpus:", "        if c.min_cpus >= c.max_cpus:")),
    m("fsx-dns-region", "rules", "an existing file system in another region accepted",
      ("towergen/loader/rules.py", '            if fsx.dns_name and f".fsx.{env.region}." not in fsx.dns_name:',
       '            if fsx.dns_name and ".fsx." not in fsx.dns_name:')),
    m("throughput-scratch", "rules", "a per-unit throughput accepted on a SCRATCH file system",
      ("towergen/loader/rules.py", "        if allowed is None:\n", "        if allowed is None and kind == \"SCRATCH_1\":\n")),
    m("tag-aws-prefix", "rules", "tag keys starting with aws: accepted",
      ("towergen/spec/model.py", '    if key.lower().startswith("aws:"):', '    if key.startswith("aws:"):')),
    m("force-destroy-existing", "rules", "force_destroy accepted on a bucket towergen does not create",
      ("towergen/loader/rules.py", "    if storage.force_destroy and not (work_bucket(env) and storage.create_bucket):",
       "    if storage.force_destroy and not work_bucket(env):")),
    # --- storage ---------------------------------------------------------------------------------------
    m("lifecycle-whole-bucket", "storage", 'lifecycle prefix "" (the whole bucket) replaced by the work_dir prefix',
      ("towergen/decide/resolved.py", "    return given if given is not None else work_prefix(env.work_dir)",
       "    return given or work_prefix(env.work_dir)")),
    m("work-prefix-slash", "storage", "the lifecycle prefix loses its trailing slash (work/ also matches work-old/)",
      ("towergen/decide/resolved.py", '    return prefix + "/" if prefix else ""', '    return prefix if prefix else ""')),
    m("bucket-public-policy", "storage", "the work bucket no longer blocks public policies",
      ("modules/storage/main.tf", "  block_public_policy     = true\n", "  block_public_policy     = false\n")),
    m("bucket-encryption", "storage", "nextflow.config no longer asks for encrypted uploads to a created bucket",
      ("towergen/decide/resolved.py", "        storage_encryption=create_bucket,", "        storage_encryption=False,")),
    # --- output (the writer) ---------------------------------------------------------------------------
    m("writer-overwrite-any", "writer", "a file towergen cannot prove its own is overwritten",
      ("towergen/output/writer.py", "        elif rel == MANIFEST or ours(rel, current):", "        elif True:")),
    m("writer-keep-created", "writer", "a failed or interrupted write leaves the output folder it created",
      ("towergen/output/writer.py", "        tree.on_abort.pop()\n    remove_created(created)\n", "        tree.on_abort.pop()\n")),
    m("writer-register-late", "writer", "a folder is registered for removal only after its mkdir (issue 18's Ctrl-C window)",
      ("towergen/output/folders.py", "            created.append(path)\n            with os_errors(\"create the folder\", path, \"nothing was written\"):\n"
       "                try:\n                    os.mkdir(path)\n                except FileExistsError:\n"
       "                    created.pop()  # made by someone else meanwhile: not ours to remove\n                    continue\n",
       "            with os_errors(\"create the folder\", path, \"nothing was written\"):\n                try:\n"
       "                    os.mkdir(path)\n                except FileExistsError:\n                    continue\n"
       "            created.append(path)\n")),
    # --- YAML reader -----------------------------------------------------------------------------------
    m("reader-depth", "reader", "nesting allowed one level deeper",
      ("towergen/spec/reader.py", "MAX_DEPTH = 64", "MAX_DEPTH = 65")),
    m("reader-digits", "reader", "integers of 19 digits accepted",
      ("towergen/spec/reader.py", "MAX_DIGITS = 18", "MAX_DIGITS = 19")),
    # --- launch template and compute module ---------------------------------------------------------------
    m("hop-limit", "launch template", "the metadata hop limit raised to 2 (containers reach the instance role)",
      ("modules/compute/main.tf", "    http_put_response_hop_limit = 1\n", "    http_put_response_hop_limit = 2\n")),
    m("boot-disk-unencrypted", "launch template", "the boot disk no longer encrypted",
      ("modules/compute/main.tf", "      encrypted             = true\n", "      encrypted             = false\n")),
    m("boot-disk-throughput", "launch template", "the boot disk's throughput no longer set (Fusion's 325 MB/s lost)",
      ("modules/compute/main.tf", "      throughput            = var.boot_disk_throughput\n", "")),
    m("allocation-wiring", "launch template", "the work compute environment ignores the allocation strategy",
      ("modules/compute/main.tf", "  compute_resources {\n    type                = var.provisioning\n    allocation_strategy = var.allocation_strategy\n",
       '  compute_resources {\n    type                = var.provisioning\n    allocation_strategy = "BEST_FIT_PROGRESSIVE"\n')),
    m("head-ce-spot", "launch template", "the head compute environment follows the work one's provisioning (spot)",
      ("modules/compute/main.tf", '    type                = "EC2"\n    allocation_strategy = "BEST_FIT_PROGRESSIVE"\n',
       '    type                = var.provisioning\n    allocation_strategy = "BEST_FIT_PROGRESSIVE"\n')),
    m("lustre-port", "storage", "the FSx security group opens the wrong Lustre port",
      ("modules/fsx/main.tf", "lustre_ports = { lnet = [988, 988], clients = [1018, 1023] }", "lustre_ports = { lnet = [989, 989], clients = [1018, 1023] }")),
    # --- user-data ------------------------------------------------------------------------------------
    m("spot-draining", "user-data", "ECS spot instance draining turned off",
      ("templates/userdata/ecs.sh.j2", "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true", "ECS_ENABLE_SPOT_INSTANCE_DRAINING=false")),
    m("fsx-not-checked", "user-data", "the FSx step no longer checks that the mount is there",
      ("templates/userdata/fsx.sh.j2", 'done\nmountpoint -q "$mount_path"\n', "done\n")),
    m("unfit-keeps-running", "user-data", "an instance whose setup failed starts ECS anyway",
      ("templates/userdata/start-ecs.sh.j2", "  shutdown -h now\n  exit 1\n", "")),
    m("fusion-stripe", "user-data", "Fusion's cache volume no longer striped over every NVMe disk",
      ("templates/userdata/fusion.sh.j2", '-i "$count" -I 256k ', "")),
)
