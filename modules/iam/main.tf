# IAM for one Batch environment: one identity per actor, each with what that actor calls and
# nothing else. Every name starts with var.name.
#
#   platform      the IAM user (access key) or the role (External ID) the platform signs in with
#   head job      the Nextflow head job: registers job definitions and submits tasks
#   compute job   every task: the buckets, nothing else
#   instance      the ECS agent (and amazon-ebs-autoscale): never reachable from containers,
#                 since the launch template's metadata hop limit is 1
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

  bucket_arns       = [for b in var.buckets : "arn:${local.partition}:s3:::${b.name}"]
  object_arns       = [for b in var.buckets : "arn:${local.partition}:s3:::${b.name}/*"]
  write_bucket_arns = [for b in var.buckets : "arn:${local.partition}:s3:::${b.name}" if !b.read_only]
  write_object_arns = [for b in var.buckets : "arn:${local.partition}:s3:::${b.name}/*" if !b.read_only]

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
  job_role_arns = [aws_iam_role.head_job.arn, aws_iam_role.compute_job.arn]

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
  source_policy_documents = [data.aws_iam_policy_document.buckets.json, data.aws_iam_policy_document.follow_jobs.json]

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

  statement {
    sid       = "JobLogs"
    actions   = ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents", "logs:GetQueryResults", "logs:StartQuery"]
    resources = [local.job_log_group, "${local.job_log_group}:log-stream:*"]
  }

  statement {
    sid       = "StopLogQueries"
    actions   = ["logs:StopQuery"]
    resources = ["*"]
  }

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
# the environment file, and only with its External ID (the confused-deputy guard).
data "aws_iam_policy_document" "platform_trust" {
  count = local.create_role ? 1 : 0

  statement {
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
  source_policy_documents = [data.aws_iam_policy_document.buckets.json, data.aws_iam_policy_document.follow_jobs.json]

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

resource "aws_iam_role_policy" "compute_job" {
  count = length(var.buckets) > 0 ? 1 : 0

  name   = var.role_names.compute_job
  role   = aws_iam_role.compute_job.id
  policy = data.aws_iam_policy_document.buckets.json
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
# Batch: tasks and the head job have roles of their own, and the launch template's hop limit of 1
# keeps containers away from this one.
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
# deleted with the instance, and delete (or detach) only volumes it created itself. The tag is
# tied to the caller by the policy variable ec2:SourceInstanceARN, which EC2 sets for the
# credentials of an instance role; no snapshot resource is granted, so no volume can be made
# from a snapshot.
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
    actions   = ["ec2:AttachVolume", "ec2:DeleteVolume", "ec2:DetachVolume"]
    resources = ["${local.ec2_arn}:volume/*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:SourceInstanceARN"
      values   = ["${local.ec2_arn}:instance/$${ec2:ResourceTag/source-instance}"]
    }
  }

  statement {
    sid       = "OwnInstance"
    actions   = ["ec2:AttachVolume", "ec2:DetachVolume", "ec2:ModifyInstanceAttribute"]
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
