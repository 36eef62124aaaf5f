# IAM for one Batch environment: one identity per actor, each with what that actor calls and
# nothing else. Every name starts with var.name.
#
#   platform      the IAM user (access key) or the role (External ID) the platform signs in with
#   head job      the Nextflow head job: registers job definitions and submits tasks
#   compute job   every task: the buckets, nothing else
#   instance      the ECS agent (and amazon-ebs-autoscale). Every container on the instance can
#                 reach it (AWS Batch runs EC2 jobs with host networking, so the metadata hop
#                 limit is no barrier, and a job without a job role falls back to it): it is
#                 kept to what the agent needs, and every job gets a job role
#
# The calls each actor makes, and the calls that must be denied, are listed with their sources
# in towergen's tests/iam/catalogue.yaml, which the tests evaluate against these policies.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

# The region is data.aws_region.current.id: hashicorp/aws 6.x deprecates its name attribute, and
# 5.x has no region attribute, the one 6.x recommends instead.
locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.id
  account   = data.aws_caller_identity.current.account_id

  # This account's buckets (the work bucket and storage.allowed_buckets): the platform, the head
  # job and the tasks. Buckets outside it (external): the head job and the tasks read them.
  own_buckets          = [for b in var.buckets : b if !b.external]
  bucket_arns          = [for b in local.own_buckets : "arn:${local.partition}:s3:::${b.name}"]
  object_arns          = [for b in local.own_buckets : "arn:${local.partition}:s3:::${b.name}/*"]
  write_bucket_arns    = [for b in local.own_buckets : "arn:${local.partition}:s3:::${b.name}" if !b.read_only]
  write_object_arns    = [for b in local.own_buckets : "arn:${local.partition}:s3:::${b.name}/*" if !b.read_only]
  external_bucket_arns = [for b in var.buckets : "arn:${local.partition}:s3:::${b.name}" if b.external]
  external_object_arns = [for b in var.buckets : "arn:${local.partition}:s3:::${b.name}/*" if b.external]

  # Buckets encrypted with a customer managed key (SSE-KMS), and the key's region (S3 calls KMS
  # in the bucket's region, which is the key's).
  kms_buckets     = [for b in var.buckets : merge(b, { region = split(":", b.kms_key_arn)[3] }) if b.kms_key_arn != null]
  own_kms_buckets = [for b in local.kms_buckets : b if !b.external]

  batch_arn   = "arn:${local.partition}:batch:${local.region}:${local.account}"
  ec2_arn     = "arn:${local.partition}:ec2:${local.region}:${local.account}"
  ecs_arn     = "arn:${local.partition}:ecs:${local.region}:${local.account}"
  logs_arn    = "arn:${local.partition}:logs:${local.region}:${local.account}"
  managed_arn = "arn:${local.partition}:iam::aws:policy"
  user_name   = coalesce(var.user_name, var.name)

  # Batch writes the container logs of every job to this log group (Nextflow reads a failed
  # task's output from it: AwsBatchHelper.getTaskLogStream).
  job_log_group = "${local.logs_arn}:log-group:/aws/batch/job"

  queue_arns       = [for q in var.job_queue_names : "${local.batch_arn}:job-queue/${q}"]
  environment_arns = concat(local.queue_arns, var.compute_environment_arns)

  # Roles Batch, EC2 and Spot Fleet run with: the forge policy may read them and pass them to
  # their own service when it updates a compute environment.
  service_roles = concat(
    [for r in aws_iam_role.batch_service : { arn = r.arn, service = "batch.amazonaws.com" }],
    [for r in aws_iam_role.instance : { arn = r.arn, service = "ec2.amazonaws.com" }],
    [for r in aws_iam_role.spot_fleet : { arn = r.arn, service = "spotfleet.amazonaws.com" }],
  )
  job_role_arns = concat([aws_iam_role.head_job.arn, aws_iam_role.compute_job.arn], aws_iam_role.execution[*].arn)

  # Pipeline secrets: the platform names each secret it creates tower-<...> (seqeralabs/docs
  # compute-envs/aws-batch.mdx, "Pipeline secrets (optional)").
  tower_secrets = "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:tower-*"

  # Manual mode, the platform's documented launch setup: three AWS managed read-only policies.
  launch_managed_policies = var.user_policy == "launch" && var.aws_managed_policies ? toset([
    "${local.managed_arn}/AmazonS3ReadOnlyAccess",
    "${local.managed_arn}/AmazonEC2ContainerRegistryReadOnly",
    "${local.managed_arn}/CloudWatchLogsReadOnlyAccess",
  ]) : toset([])

  # Who may pass a job role to Batch. Batch checks iam:PassRole when a job definition names a
  # jobRoleArn; the role itself trusts only ecs-tasks.amazonaws.com.
  job_role_services = ["batch.amazonaws.com", "ecs-tasks.amazonaws.com"]
}

# --- S3: exactly the listed buckets ------------------------------------------------------------

# Nextflow's S3 client (nf-amazon S3Client, S3OutputStream): list, read, multipart upload, copy
# (GetObject on the source, PutObject on the target), delete, and object tags (Fusion).
data "aws_iam_policy_document" "buckets" {
  dynamic "statement" {
    for_each = length(var.buckets) > 0 ? [1] : []
    content {
      sid       = "ListBuckets"
      actions   = ["s3:GetBucketLocation", "s3:ListBucket"]
      resources = local.bucket_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.buckets) > 0 ? [1] : []
    content {
      sid       = "ReadObjects"
      actions   = ["s3:GetObject", "s3:GetObjectTagging"]
      resources = local.object_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.write_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "ListUploads"
      actions   = ["s3:ListBucketMultipartUploads"]
      resources = local.write_bucket_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.write_object_arns) > 0 ? [1] : []
    content {
      sid = "WriteObjects"
      actions = [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:ListMultipartUploadParts",
        "s3:PutObject",
        "s3:PutObjectTagging",
      ]
      resources = local.write_object_arns
    }
  }
}

# Public data and other accounts' buckets (storage.external_buckets): the head job and the tasks
# list and read them, as they read a read-only bucket of this account. Nothing is written there,
# and the platform gets none of them. The bucket's owner grants the rest (a public bucket
# already does; another account's bucket needs its bucket policy, and its key policy for KMS).
data "aws_iam_policy_document" "external_buckets" {
  dynamic "statement" {
    for_each = length(local.external_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "ListExternalBuckets"
      actions   = ["s3:GetBucketLocation", "s3:ListBucket"]
      resources = local.external_bucket_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.external_object_arns) > 0 ? [1] : []
    content {
      sid       = "ReadExternalObjects"
      actions   = ["s3:GetObject", "s3:GetObjectTagging"]
      resources = local.external_object_arns
    }
  }
}

# Buckets encrypted with a customer managed key (SSE-KMS): reading an object needs kms:Decrypt,
# writing one (and a multipart upload) kms:GenerateDataKey too. Each key only through S3
# (kms:ViaService) and only for its own bucket: S3's encryption context is the bucket's ARN (with
# an S3 Bucket Key) or the object's.
data "aws_iam_policy_document" "bucket_keys" {
  dynamic "statement" {
    for_each = local.kms_buckets
    content {
      sid       = "BucketKey${statement.key}"
      actions   = statement.value.read_only ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${statement.value.region}.${data.aws_partition.current.dns_suffix}"]
      }

      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:aws:s3:arn"
        values   = ["arn:${local.partition}:s3:::${statement.value.name}", "arn:${local.partition}:s3:::${statement.value.name}/*"]
      }
    }
  }
}

# The same, for this account's buckets only: what the platform uses (it reads the run's reports
# and cleans the work directory; it never reads external data).
data "aws_iam_policy_document" "own_bucket_keys" {
  dynamic "statement" {
    for_each = local.own_kms_buckets
    content {
      sid       = "OwnBucketKey${statement.key}"
      actions   = statement.value.read_only ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${statement.value.region}.${data.aws_partition.current.dns_suffix}"]
      }

      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:aws:s3:arn"
        values   = ["arn:${local.partition}:s3:::${statement.value.name}", "arn:${local.partition}:s3:::${statement.value.name}/*"]
      }
    }
  }
}

# --- the platform: an IAM user with an access key, or a role it assumes ---------------------------

# Following jobs and the instances they run on: what both the platform and the head job read.
data "aws_iam_policy_document" "follow_jobs" {
  # These calls have no resource-level permissions in IAM: "*" is the only resource they take.
  statement {
    sid = "DescribeJobs"
    actions = [
      "batch:DescribeComputeEnvironments",
      "batch:DescribeJobDefinitions",
      "batch:DescribeJobQueues",
      "batch:DescribeJobs",
      "batch:ListJobs",
      "ec2:DescribeInstanceStatus",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeInstances",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "DescribeTasks"
    actions   = ["ecs:DescribeContainerInstances", "ecs:DescribeTasks"]
    resources = ["${local.ecs_arn}:container-instance/*", "${local.ecs_arn}:task/*"]
  }

  statement {
    sid       = "InstanceAttributes"
    actions   = ["ec2:DescribeInstanceAttribute"]
    resources = ["${local.ec2_arn}:instance/*"]
  }
}

# What the platform calls to launch a pipeline: submit the head job to this environment's head
# queue (with the head job role), follow it and its tasks, cancel them, read their logs.
data "aws_iam_policy_document" "launch" {
  source_policy_documents = [
    data.aws_iam_policy_document.buckets.json,
    data.aws_iam_policy_document.own_bucket_keys.json,
    data.aws_iam_policy_document.follow_jobs.json,
  ]

  statement {
    sid = "SubmitJobs"
    actions = [
      "batch:RegisterJobDefinition",
      "batch:SubmitJob",
    ]
    # SubmitJob is authorised on the new job, the queue and the job definition. Job definitions
    # are account-wide and the platform names its own: any name, this region.
    resources = concat(["${local.batch_arn}:job/*", "${local.batch_arn}:job-definition/*"], local.queue_arns)
  }

  # Tags given to SubmitJob or RegisterJobDefinition (the platform's resource labels) need
  # TagResource too. Batch has no condition key that limits it to tagging on create.
  statement {
    sid       = "TagJobs"
    actions   = ["batch:TagResource"]
    resources = ["${local.batch_arn}:job/*", "${local.batch_arn}:job-definition/*"]
  }

  statement {
    sid       = "StopJobs"
    actions   = ["batch:CancelJob", "batch:TerminateJob"]
    resources = ["${local.batch_arn}:job/*"]
  }

  statement {
    sid       = "PassJobRoles"
    actions   = ["iam:PassRole"]
    resources = local.job_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = local.job_role_services
    }
  }

  # The platform lists the names of secrets it may pass to pipelines; IAM has no resource for it.
  statement {
    sid       = "ListSecrets"
    actions   = ["secretsmanager:ListSecrets"]
    resources = ["*"]
  }

  # Pipeline secrets: the platform copies a workspace's secrets into Secrets Manager for a run,
  # as tower-* secrets, and deletes them afterwards; it never reads a value back.
  dynamic "statement" {
    for_each = var.pipeline_secrets ? [1] : []
    content {
      sid       = "PipelineSecrets"
      actions   = ["secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret"]
      resources = [local.tower_secrets]
    }
  }

  # CloudWatch Logs authorises the log-group actions (DescribeLogStreams, FilterLogEvents,
  # StartQuery, GetQueryResults) on the group's ARN with a trailing ":*", and GetLogEvents on a
  # stream ("...:log-group:NAME:log-stream:STREAM"); "NAME:*" matches both, and no other group.
  statement {
    sid       = "JobLogs"
    actions   = ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents", "logs:GetQueryResults", "logs:StartQuery"]
    resources = ["${local.job_log_group}:*"]
  }

  statement {
    sid       = "StopLogQueries"
    actions   = ["logs:StopQuery"]
    resources = ["*"]
  }

}

# Forge: the launch policy, plus looking after exactly this environment's queues and compute
# environments the way Batch Forge does (update, enable, disable, delete). Terraform created
# everything, so the policy creates nothing and writes no IAM; it names exact resources, never a
# "NAME-*" pattern that another environment could match.
data "aws_iam_policy_document" "forge" {
  source_policy_documents = [data.aws_iam_policy_document.launch.json]

  statement {
    sid     = "EcsAmiParameters"
    actions = ["ssm:GetParameters"]
    # AWS's public parameters: their ARN has no account ("*" matches the empty field)
    resources = ["arn:${local.partition}:ssm:${local.region}:*:parameter/aws/service/ecs/*"]
  }

  dynamic "statement" {
    for_each = length(local.service_roles) > 0 ? [1] : []
    content {
      sid       = "ReadRoles"
      actions   = ["iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"]
      resources = concat([for r in local.service_roles : r.arn], local.job_role_arns)
    }
  }

  dynamic "statement" {
    for_each = local.service_roles
    content {
      sid       = "PassServiceRole${statement.key}"
      actions   = ["iam:PassRole"]
      resources = [statement.value.arn]

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = [statement.value.service]
      }
    }
  }

  dynamic "statement" {
    for_each = length(local.environment_arns) > 0 ? [1] : []
    content {
      sid = "BatchEnvironment"
      actions = [
        "batch:DeleteComputeEnvironment",
        "batch:DeleteJobQueue",
        "batch:UpdateComputeEnvironment",
        "batch:UpdateJobQueue",
      ]
      resources = local.environment_arns
    }
  }

  # No resource-level permissions in IAM for these reads.
  statement {
    sid = "DescribeNetwork"
    actions = concat([
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypeOfferings",
      "ec2:DescribeKeyPairs",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:DescribeLaunchTemplates",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
    ], var.fsx ? ["fsx:DescribeFileSystems"] : [])
    resources = ["*"]
  }
}

locals {
  user_policy_json = var.user_policy == "forge" ? data.aws_iam_policy_document.forge.json : data.aws_iam_policy_document.launch.json
  create_user      = var.credentials_type == "user" && var.create_user
  create_role      = var.credentials_type == "role"
}

resource "aws_iam_user" "this" {
  count = local.create_user ? 1 : 0

  name = local.user_name
}

resource "aws_iam_access_key" "this" {
  count = local.create_user ? 1 : 0

  user = aws_iam_user.this[0].name
}

# The role the platform assumes instead of using a long-lived key: only the principal named in
# the environment file, and only with its External ID (the confused-deputy guard). The platform
# passes session tags when it assumes the role, which IAM authorises as sts:TagSession on the
# same request: the platform's documented trust policy grants it beside AssumeRole (seqeralabs/docs
# compute-envs/aws-batch.mdx, "IAM role-based credential creation"). TagSession alone opens no
# session; AssumeRole still needs the External ID.
data "aws_iam_policy_document" "platform_trust" {
  count = local.create_role ? 1 : 0

  statement {
    sid     = "AssumeWithExternalId"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.trusted_principal_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }

  statement {
    sid     = "TagSession"
    actions = ["sts:TagSession"]

    principals {
      type        = "AWS"
      identifiers = [var.trusted_principal_arn]
    }
  }
}

resource "aws_iam_role" "platform" {
  count = local.create_role ? 1 : 0

  name                 = var.role_names.platform
  description          = "The platform's credentials for the ${var.name} Batch environment (assumed with an External ID)."
  assume_role_policy   = data.aws_iam_policy_document.platform_trust[0].json
  max_session_duration = 3600
}

# A managed policy rather than an inline one: IAM limits a user's inline policies to 2,048
# characters in all, which the forge policy exceeds.
resource "aws_iam_policy" "user" {
  count = local.create_user || local.create_role ? 1 : 0

  name        = "${var.name}-${var.user_policy}"
  description = "What the platform needs to ${var.user_policy == "forge" ? "manage and use" : "run pipelines on"} the ${var.name} Batch environment."
  policy      = local.user_policy_json
}

resource "aws_iam_user_policy_attachment" "user" {
  count = local.create_user ? 1 : 0

  user       = aws_iam_user.this[0].name
  policy_arn = aws_iam_policy.user[0].arn
}

resource "aws_iam_role_policy_attachment" "platform" {
  count = local.create_role ? 1 : 0

  role       = aws_iam_role.platform[0].name
  policy_arn = aws_iam_policy.user[0].arn
}

resource "aws_iam_user_policy_attachment" "launch_managed" {
  for_each = local.create_user ? local.launch_managed_policies : toset([])

  user       = aws_iam_user.this[0].name
  policy_arn = each.value
}

resource "aws_iam_role_policy_attachment" "launch_managed" {
  for_each = local.create_role ? local.launch_managed_policies : toset([])

  role       = aws_iam_role.platform[0].name
  policy_arn = each.value
}

# --- the Nextflow head job and the tasks --------------------------------------------------------

# Batch runs both as ECS tasks: the roles trust ecs-tasks.amazonaws.com, for tasks of this
# account and region only (the confused-deputy guard AWS recommends for task roles).
data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.ecs_arn}:*"]
    }
  }
}

# The head job (the platform's headJobRole): what nf-amazon's AwsBatchTaskHandler and
# AwsBatchHelper call to run the pipeline's tasks on this environment's queues.
data "aws_iam_policy_document" "head_job" {
  source_policy_documents = [
    data.aws_iam_policy_document.buckets.json,
    data.aws_iam_policy_document.external_buckets.json,
    data.aws_iam_policy_document.bucket_keys.json,
    data.aws_iam_policy_document.follow_jobs.json,
  ]

  statement {
    sid     = "SubmitTasks"
    actions = ["batch:RegisterJobDefinition", "batch:SubmitJob"]
    # SubmitJob is authorised on the new job, the queue and the job definition; Nextflow names
    # its job definitions nf-<container image> (AwsBatchTaskHandler).
    resources = concat(["${local.batch_arn}:job/*", "${local.batch_arn}:job-definition/nf-*"], local.queue_arns)
  }

  # Nextflow tags every job definition it registers (nextflow.io/createdAt, nextflow.io/version)
  # and, with resource labels, every job; Batch has no key that limits TagResource to creation.
  statement {
    sid       = "TagTasks"
    actions   = ["batch:TagResource"]
    resources = ["${local.batch_arn}:job/*", "${local.batch_arn}:job-definition/nf-*"]
  }

  # AwsBatchTaskHandler.kill terminates (TerminateJob also cancels a job that has not started).
  statement {
    sid       = "StopTasks"
    actions   = ["batch:TerminateJob"]
    resources = ["${local.batch_arn}:job/*"]
  }

  statement {
    sid       = "PassComputeJobRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.compute_job.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = local.job_role_services
    }
  }

  statement {
    sid       = "TaskLogs"
    actions   = ["logs:GetLogEvents"]
    resources = ["${local.job_log_group}:log-stream:*"]
  }

  # Pipeline secrets: the head job lists the run's secrets and registers task job definitions
  # that name them and the execution role (seqeralabs/docs secrets/overview.md, "Compute
  # permissions", which also lists iam:GetRole on that role).
  dynamic "statement" {
    for_each = var.pipeline_secrets ? [1] : []
    content {
      sid       = "ListPipelineSecrets"
      actions   = ["secretsmanager:ListSecrets"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.pipeline_secrets ? [1] : []
    content {
      sid       = "ReadExecutionRole"
      actions   = ["iam:GetRole"]
      resources = aws_iam_role.execution[*].arn
    }
  }

  dynamic "statement" {
    for_each = var.pipeline_secrets ? [1] : []
    content {
      sid       = "PassExecutionRole"
      actions   = ["iam:PassRole"]
      resources = aws_iam_role.execution[*].arn

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = local.job_role_services
      }
    }
  }

  # Files.isReadable on an S3 path (nf-amazon S3FileSystemProvider.checkAccess) reads the
  # object's ACL before anything else; without GetObjectAcl every such check says "not readable".
  dynamic "statement" {
    for_each = length(var.buckets) > 0 ? [1] : []
    content {
      sid       = "CheckReadable"
      actions   = ["s3:GetObjectAcl"]
      resources = concat(local.object_arns, local.external_object_arns)
    }
  }

  # The pipeline's notification mail: Nextflow's Mailer sends it from the head job through SES
  # (nf-amazon AwsMailProvider, SendRawEmail), from mail.from, which nextflow.config sets to this
  # address; the platform itself never calls SES.
  dynamic "statement" {
    for_each = var.ses_from_address != null ? [1] : []
    content {
      sid       = "SendMail"
      actions   = ["ses:SendRawEmail"]
      resources = ["arn:${local.partition}:ses:${local.region}:${local.account}:identity/*"]

      condition {
        test     = "StringEquals"
        variable = "ses:FromAddress"
        values   = [var.ses_from_address]
      }
    }
  }
}

resource "aws_iam_role" "head_job" {
  name               = var.role_names.head_job
  description        = "The Nextflow head job of the ${var.name} Batch environment."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy" "head_job" {
  name   = var.role_names.head_job
  role   = aws_iam_role.head_job.id
  policy = data.aws_iam_policy_document.head_job.json
}

# Every task (the platform's computeJobRole, Nextflow's aws.batch.jobRole): the buckets only.
resource "aws_iam_role" "compute_job" {
  name               = var.role_names.compute_job
  description        = "The pipeline tasks of the ${var.name} Batch environment."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

# The tasks: the buckets (this account's as declared, the external ones read only) and their keys.
data "aws_iam_policy_document" "compute_job" {
  source_policy_documents = [
    data.aws_iam_policy_document.buckets.json,
    data.aws_iam_policy_document.external_buckets.json,
    data.aws_iam_policy_document.bucket_keys.json,
  ]
}

resource "aws_iam_role_policy" "compute_job" {
  count = length(var.buckets) > 0 ? 1 : 0

  name   = var.role_names.compute_job
  role   = aws_iam_role.compute_job.id
  policy = data.aws_iam_policy_document.compute_job.json
}

# Pipeline secrets: the Batch execution role (the platform's executionRole). The ECS agent takes
# it to fetch a task's secrets (secretsmanager:GetSecretValue, tower-* only) before the container
# starts; with ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE (user-data) it also writes the task's log
# stream with it and pulls private ECR images: AmazonECSTaskExecutionRolePolicy, as the platform's
# docs and the Batch User Guide ("Amazon ECS task execution IAM role") set it up.
resource "aws_iam_role" "execution" {
  count = var.pipeline_secrets ? 1 : 0

  name               = "${var.name}-execution"
  description        = "Reads the platform's tower-* pipeline secrets for the tasks of the ${var.name} Batch environment."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  count = var.pipeline_secrets ? 1 : 0

  role       = aws_iam_role.execution[0].name
  policy_arn = "${local.managed_arn}/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "ReadPipelineSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.tower_secrets]
  }
}

resource "aws_iam_role_policy" "execution" {
  count = var.pipeline_secrets ? 1 : 0

  name   = "${var.name}-execution"
  role   = aws_iam_role.execution[0].id
  policy = data.aws_iam_policy_document.execution.json
}

# --- roles Batch and its instances run with ------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  for_each = toset(["batch", "ec2", "spotfleet"])

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["${each.key}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "batch_service" {
  count = var.create_compute_roles && var.create_batch_service_role ? 1 : 0

  name               = "${var.name}-batch-service"
  assume_role_policy = data.aws_iam_policy_document.assume["batch"].json
}

resource "aws_iam_role_policy_attachment" "batch_service" {
  count = var.create_compute_roles && var.create_batch_service_role ? 1 : 0

  role       = aws_iam_role.batch_service[0].name
  policy_arn = "${local.managed_arn}/service-role/AWSBatchServiceRole"
}

# The instance role: the ECS agent only (AmazonEC2ContainerServiceforEC2Role). No S3 and no
# Batch: tasks and the head job have roles of their own. Containers can reach this role (host
# networking; see the header), so whatever it holds, every task on the instance holds too.
resource "aws_iam_role" "instance" {
  count = var.create_compute_roles ? 1 : 0

  name               = "${var.name}-instance"
  assume_role_policy = data.aws_iam_policy_document.assume["ec2"].json
}

resource "aws_iam_role_policy_attachment" "instance" {
  count = var.create_compute_roles ? 1 : 0

  role       = aws_iam_role.instance[0].name
  policy_arn = "${local.managed_arn}/service-role/AmazonEC2ContainerServiceforEC2Role"
}

# amazon-ebs-autoscale (bin/create-ebs-volume) on each instance: create an encrypted volume
# tagged source-instance=<its own instance id>, attach it to its own instance, set it to be
# deleted with the instance, and delete a volume it created itself when the attach failed. The
# tag is tied to the caller by the policy variable ec2:SourceInstanceARN, which EC2 sets for the
# credentials of an instance role; no snapshot resource is granted, so no volume can be made
# from a snapshot. At the pinned commit (8c8ac28) it never detaches a volume: no DetachVolume.
# Its describe-tags (the instance's tags, copied onto each volume) is in the ECS agent's managed
# policy already.
data "aws_iam_policy_document" "ebs_autoscale" {
  statement {
    sid       = "CreateOwnVolumes"
    actions   = ["ec2:CreateVolume"]
    resources = ["${local.ec2_arn}:volume/*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:SourceInstanceARN"
      values   = ["${local.ec2_arn}:instance/$${aws:RequestTag/source-instance}"]
    }

    condition {
      test     = "Bool"
      variable = "ec2:Encrypted"
      values   = ["true"]
    }
  }

  statement {
    sid       = "TagOnCreate"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.ec2_arn}:volume/*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateVolume"]
    }
  }

  statement {
    sid       = "UseOwnVolumes"
    actions   = ["ec2:AttachVolume", "ec2:DeleteVolume"]
    resources = ["${local.ec2_arn}:volume/*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:SourceInstanceARN"
      values   = ["${local.ec2_arn}:instance/$${ec2:ResourceTag/source-instance}"]
    }
  }

  statement {
    sid       = "OwnInstance"
    actions   = ["ec2:AttachVolume", "ec2:ModifyInstanceAttribute"]
    resources = ["${local.ec2_arn}:instance/*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:SourceInstanceARN"
      values   = ["${local.ec2_arn}:instance/$${ec2:InstanceID}"]
    }
  }

  # describe-volumes (and `aws ec2 wait volume-available`): no resource-level permission in IAM.
  statement {
    sid       = "DescribeVolumes"
    actions   = ["ec2:DescribeVolumes"]
    resources = ["*"]
  }

  # A customer managed key for the volumes (ebs_kms_key_arn, the account's default EBS key, which
  # create-volume --encrypted uses): EC2 asks KMS on the caller's behalf for a data key when it
  # creates the volume and for a grant when it attaches it (EBS User Guide, "Permissions for
  # users"). Only through EC2, and grants only for AWS resources. No ReEncrypt: no volume is ever
  # made from a snapshot.
  dynamic "statement" {
    for_each = var.ebs_kms_key_arn != null ? [1] : []
    content {
      sid       = "VolumeKey"
      actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext"]
      resources = [var.ebs_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ec2.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.ebs_kms_key_arn != null ? [1] : []
    content {
      sid       = "VolumeKeyGrants"
      actions   = ["kms:CreateGrant"]
      resources = [var.ebs_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ec2.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }

      condition {
        test     = "Bool"
        variable = "kms:GrantIsForAWSResource"
        values   = ["true"]
      }
    }
  }
}

resource "aws_iam_role_policy" "ebs_autoscale" {
  count = var.create_compute_roles && var.ebs_autoscale ? 1 : 0

  name   = "${var.name}-ebs-autoscale"
  role   = aws_iam_role.instance[0].id
  policy = data.aws_iam_policy_document.ebs_autoscale.json
}

resource "aws_iam_instance_profile" "instance" {
  count = var.create_compute_roles ? 1 : 0

  name = "${var.name}-instance"
  role = aws_iam_role.instance[0].name
}

resource "aws_iam_role" "spot_fleet" {
  count = var.create_spot_fleet_role ? 1 : 0

  name               = "${var.name}-spot-fleet"
  assume_role_policy = data.aws_iam_policy_document.assume["spotfleet"].json
}

resource "aws_iam_role_policy_attachment" "spot_fleet" {
  count = var.create_spot_fleet_role ? 1 : 0

  role       = aws_iam_role.spot_fleet[0].name
  policy_arn = "${local.managed_arn}/service-role/AmazonEC2SpotFleetTaggingRole"
}
