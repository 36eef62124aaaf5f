# IAM for one Batch environment: the platform's user and its policies, and the roles that
# Batch and its instances run with. Every name starts with var.name.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id

  bucket_arns       = [for b in var.buckets : "arn:${local.partition}:s3:::${b.name}"]
  object_arns       = [for b in var.buckets : "arn:${local.partition}:s3:::${b.name}/*"]
  write_object_arns = [for b in var.buckets : "arn:${local.partition}:s3:::${b.name}/*" if !b.read_only]

  batch_arn   = "arn:${local.partition}:batch:${local.region}:${local.account}"
  iam_arn     = "arn:${local.partition}:iam::${local.account}"
  managed_arn = "arn:${local.partition}:iam::aws:policy"
  user_name   = coalesce(var.user_name, var.name)

  queue_arns       = [for q in var.job_queue_names : "${local.batch_arn}:job-queue/${q}"]
  environment_arns = concat(local.queue_arns, var.compute_environment_arns)
  role_arns = concat(
    aws_iam_role.batch_service[*].arn,
    aws_iam_role.instance[*].arn,
    aws_iam_role.spot_fleet[*].arn,
  )

  # Manual mode (platform "Launch" user): the three AWS managed read-only policies.
  launch_managed_policies = var.create_user && var.user_policy == "launch" ? toset([
    "${local.managed_arn}/AmazonS3ReadOnlyAccess",
    "${local.managed_arn}/AmazonEC2ContainerRegistryReadOnly",
    "${local.managed_arn}/CloudWatchLogsReadOnlyAccess",
  ]) : toset([])
}

# --- S3: exactly the listed buckets ------------------------------------------------------------

data "aws_iam_policy_document" "buckets" {
  dynamic "statement" {
    for_each = length(var.buckets) > 0 ? [1] : []
    content {
      sid       = "ListBuckets"
      actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
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
    for_each = length(local.write_object_arns) > 0 ? [1] : []
    content {
      sid       = "WriteObjects"
      actions   = ["s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"]
      resources = local.write_object_arns
    }
  }
}

# --- the platform user ---------------------------------------------------------------------------

# What the platform needs to run pipelines on this environment and to look after it the way
# Batch Forge does (enable, disable, update or dispose of its queues and compute
# environments). Terraform creates every resource, so the policy creates nothing, writes no
# IAM and names exact resources: no "NAME-*" wildcard that another environment could match.
data "aws_iam_policy_document" "forge" {
  source_policy_documents = [data.aws_iam_policy_document.buckets.json]

  statement {
    sid       = "EcsAmiParameters"
    actions   = ["ssm:GetParameters"]
    resources = ["arn:${local.partition}:ssm:*::parameter/aws/service/ecs/*"]
  }

  dynamic "statement" {
    for_each = length(local.role_arns) > 0 ? [1] : []
    content {
      sid       = "ReadRoles"
      actions   = ["iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"]
      resources = local.role_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.role_arns) > 0 ? [1] : []
    content {
      sid       = "PassRoles"
      actions   = ["iam:PassRole"]
      resources = local.role_arns

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["batch.amazonaws.com", "ec2.amazonaws.com", "spotfleet.amazonaws.com"]
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

  statement {
    sid = "BatchJobs"
    actions = [
      "batch:CancelJob",
      "batch:RegisterJobDefinition",
      "batch:SubmitJob",
      "batch:TagResource",
      "batch:TerminateJob",
    ]
    resources = concat(
      ["${local.batch_arn}:job-definition/*", "${local.batch_arn}:job/*"],
      length(local.queue_arns) > 0 ? local.queue_arns : ["${local.batch_arn}:job-queue/*"],
    )
  }

  statement {
    sid = "BatchRead"
    actions = [
      "batch:DescribeComputeEnvironments",
      "batch:DescribeJobDefinitions",
      "batch:DescribeJobQueues",
      "batch:DescribeJobs",
      "batch:ListJobs",
    ]
    resources = ["*"]
  }

  statement {
    sid = "Ec2Read"
    actions = [
      "ec2:DescribeAccountAttributes",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceAttribute",
      "ec2:DescribeInstanceStatus",
      "ec2:DescribeInstanceTypeOfferings",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeInstances",
      "ec2:DescribeKeyPairs",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:DescribeLaunchTemplates",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
      "ec2:GetEbsEncryptionByDefault",
      "ecs:DescribeContainerInstances",
      "ecs:DescribeTasks",
    ]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.fsx ? [1] : []
    content {
      sid       = "FileSystems"
      actions   = ["fsx:DescribeFileSystems"]
      resources = ["*"]
    }
  }

  statement {
    sid = "LogsAndNotifications"
    actions = [
      "logs:Describe*",
      "logs:FilterLogEvents",
      "logs:Get*",
      "logs:List*",
      "logs:StartQuery",
      "logs:StopQuery",
      "logs:TestMetricFilter",
      "secretsmanager:ListSecrets",
      "ses:SendRawEmail",
    ]
    resources = ["*"]
  }
}

# The platform's launch policy (seqeralabs/nf-tower-aws launch/launch-policy.json) plus the
# bucket access above: enough to run pipelines on queues that exist already.
data "aws_iam_policy_document" "launch" {
  source_policy_documents = [data.aws_iam_policy_document.buckets.json]

  statement {
    sid = "PlatformLaunch"
    actions = [
      "batch:CancelJob",
      "batch:DescribeComputeEnvironments",
      "batch:DescribeJobDefinitions",
      "batch:DescribeJobQueues",
      "batch:DescribeJobs",
      "batch:ListJobs",
      "batch:RegisterJobDefinition",
      "batch:SubmitJob",
      "batch:TagResource",
      "batch:TerminateJob",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceAttribute",
      "ec2:DescribeInstanceStatus",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeInstances",
      "ecs:DescribeContainerInstances",
      "ecs:DescribeTasks",
      "logs:Describe*",
      "logs:FilterLogEvents",
      "logs:Get*",
      "logs:List*",
      "logs:StartQuery",
      "logs:StopQuery",
      "logs:TestMetricFilter",
      "secretsmanager:ListSecrets",
      "ses:SendRawEmail",
    ]
    resources = ["*"]
  }
}

locals {
  user_policy_json = var.user_policy == "forge" ? data.aws_iam_policy_document.forge.json : data.aws_iam_policy_document.launch.json
}

resource "aws_iam_user" "this" {
  count = var.create_user ? 1 : 0

  name = local.user_name
}

resource "aws_iam_access_key" "this" {
  count = var.create_user ? 1 : 0

  user = aws_iam_user.this[0].name
}

# A managed policy rather than an inline one: IAM limits a user's inline policies to 2,048
# characters in all, which the forge policy exceeds.
resource "aws_iam_policy" "user" {
  count = var.create_user ? 1 : 0

  name        = "${var.name}-${var.user_policy}"
  description = "What the platform's user needs to ${var.user_policy == "forge" ? "manage and use" : "run pipelines on"} the ${var.name} Batch environment."
  policy      = local.user_policy_json
}

resource "aws_iam_user_policy_attachment" "user" {
  count = var.create_user ? 1 : 0

  user       = aws_iam_user.this[0].name
  policy_arn = aws_iam_policy.user[0].arn
}

resource "aws_iam_user_policy_attachment" "launch_managed" {
  for_each = local.launch_managed_policies

  user       = aws_iam_user.this[0].name
  policy_arn = each.value
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

data "aws_iam_policy_document" "instance" {
  source_policy_documents = [data.aws_iam_policy_document.buckets.json]

  statement {
    sid       = "TagJobsAndReadLogs"
    actions   = ["batch:TagResource", "logs:GetLogEvents"]
    resources = ["*"]
  }

  # amazon-ebs-autoscale creates, attaches and deletes the volumes of the instance it runs on.
  dynamic "statement" {
    for_each = var.ebs_autoscale ? [1] : []
    content {
      sid = "EbsAutoscale"
      actions = [
        "ec2:AttachVolume",
        "ec2:CreateTags",
        "ec2:CreateVolume",
        "ec2:DeleteVolume",
        "ec2:DescribeTags",
        "ec2:DescribeVolumeAttribute",
        "ec2:DescribeVolumeStatus",
        "ec2:DescribeVolumes",
        "ec2:ModifyInstanceAttribute",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "instance" {
  count = var.create_compute_roles ? 1 : 0

  name   = "${var.name}-instance"
  role   = aws_iam_role.instance[0].id
  policy = data.aws_iam_policy_document.instance.json
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
