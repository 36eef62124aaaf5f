# The Batch side of an environment: a launch template, the work compute environment (and, when
# head_max_vcpus is set, an on-demand one for the head job) and the head and work job queues.

locals {
  work_image_type = var.gpu ? "ECS_AL2023_NVIDIA" : "ECS_AL2023"
  ami_parameters = {
    ECS_AL2023        = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
    ECS_AL2023_NVIDIA = "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"
  }
  image_types  = toset(distinct([local.work_image_type, "ECS_AL2023"]))
  head_compute = var.head_max_vcpus != null
}

data "aws_ssm_parameter" "ami" {
  for_each = var.ami_id == null ? local.image_types : toset([])

  name = local.ami_parameters[each.key]
}

locals {
  work_ami = var.ami_id != null ? var.ami_id : nonsensitive(data.aws_ssm_parameter.ami[local.work_image_type].value)
  head_ami = var.ami_id != null ? var.ami_id : nonsensitive(data.aws_ssm_parameter.ami["ECS_AL2023"].value)
}

resource "aws_launch_template" "this" {
  name                   = var.name
  description            = "Instances of the ${var.name} Batch environment."
  user_data              = base64encode(var.user_data)
  update_default_version = true

  # A boot step that fails (a download that is not the pinned file, no FSx mount) shuts the
  # instance down; terminate it then, so that it stops costing and Batch launches another, rather
  # than leaving a stopped instance (EC2's default for an instance-initiated shutdown).
  instance_initiated_shutdown_behavior = "terminate"

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.boot_disk_gib
      volume_type           = "gp3"
      throughput            = var.boot_disk_throughput
      encrypted             = true
      kms_key_id            = var.ebs_kms_key_arn
      delete_on_termination = true
    }
  }

  # IMDSv2 only (a session token for every read), hop limit 1: nothing here needs more. This does
  # not keep Batch jobs away from the instance role: AWS Batch runs EC2 jobs with host networking,
  # so a container is no extra hop away from the metadata service, and a job without a job role
  # falls back to the instance role. What protects is that role's small policy (modules/iam).
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  dynamic "tag_specifications" {
    for_each = length(var.instance_tags) > 0 ? ["instance", "volume"] : []
    content {
      resource_type = tag_specifications.value
      tags          = var.instance_tags
    }
  }
}

# What Batch builds the work instances from: the provisioning, the instance types, the AMI, the
# launch template version, the network and the roles. A change to any of it replaces the compute
# environment (below) instead of updating it in place. Sets are sorted: an order is no change.
resource "terraform_data" "work_instances" {
  triggers_replace = {
    type                = var.provisioning
    allocation_strategy = var.allocation_strategy
    bid_percentage      = var.provisioning == "SPOT" ? var.bid_percentage : null
    spot_iam_fleet_role = var.provisioning == "SPOT" ? var.spot_fleet_role_arn : null
    instance_types      = sort(var.instance_types)
    instance_role       = var.instance_profile_arn
    image_type          = local.work_image_type
    image_id            = local.work_ami
    launch_template     = "${aws_launch_template.this.id}:${aws_launch_template.this.latest_version}"
    subnets             = sort(var.subnet_ids)
    security_group_ids  = sort(var.security_group_ids)
  }
}

# The work compute environment.
#
# Its name is left to the provider: hashicorp/aws 5.x calls the argument
# compute_environment_name(_prefix), 6.x name(_prefix), and neither accepts the other's, so one
# file that both majors read can set neither. Both then generate a unique name (terraform-<time>),
# which is what lets a replacement create the new environment while the old one still exists.
# The Name tag (<name>-work), the queue it serves (<name>-work) and the module's outputs say which
# environment it is.
#
# Replaced, never updated in place, when terraform_data.work_instances changes: Terraform creates
# the new environment, moves the queues to it, then disables and deletes the old one
# (create_before_destroy). In place, the outcome would depend on the provider version and the
# service role: hashicorp/aws 5.x replaces a SPOT_PRICE_CAPACITY_OPTIMIZED environment but updates
# a BEST_FIT_PROGRESSIVE one, 6.x updates both, and with a service role of its own every such
# change is a replacement; an in-place update is a Batch infrastructure update that ends jobs still
# running after update_policy's timeout, and a launch template given as $Latest or $Default would
# show Terraform no change at all. Here the launch template version is the number of its latest
# version, so that a new user-data (a new version) is a change Terraform sees and the new
# environment's instances boot with it.
resource "aws_batch_compute_environment" "work" {
  type         = "MANAGED"
  state        = "ENABLED"
  service_role = var.service_role_arn

  tags = {
    Name = "${var.name}-work"
  }

  compute_resources {
    type                = var.provisioning
    allocation_strategy = var.allocation_strategy
    bid_percentage      = var.provisioning == "SPOT" ? var.bid_percentage : null
    spot_iam_fleet_role = var.provisioning == "SPOT" ? var.spot_fleet_role_arn : null
    max_vcpus           = var.max_vcpus
    min_vcpus           = var.min_vcpus
    instance_type       = var.instance_types
    instance_role       = var.instance_profile_arn
    subnets             = var.subnet_ids
    security_group_ids  = var.security_group_ids

    launch_template {
      launch_template_id = aws_launch_template.this.id
      version            = aws_launch_template.this.latest_version
    }

    ec2_configuration {
      image_type        = local.work_image_type
      image_id_override = local.work_ami
    }
  }

  lifecycle {
    create_before_destroy = true
    replace_triggered_by  = [terraform_data.work_instances]
    # Batch moves desired vCPUs with the load; it is not configuration.
    ignore_changes = [compute_resources[0].desired_vcpus]
  }
}

resource "terraform_data" "head_instances" {
  count = local.head_compute ? 1 : 0

  triggers_replace = {
    instance_role      = var.instance_profile_arn
    image_id           = local.head_ami
    launch_template    = "${aws_launch_template.this.id}:${aws_launch_template.this.latest_version}"
    subnets            = sort(var.subnet_ids)
    security_group_ids = sort(var.security_group_ids)
  }
}

# With spot work instances the Nextflow head job gets an on-demand environment of its own
# (head_max_vcpus set), so that a spot reclaim never kills the pipeline's driver. Named and
# replaced as the work environment is.
resource "aws_batch_compute_environment" "head" {
  count = local.head_compute ? 1 : 0

  type         = "MANAGED"
  state        = "ENABLED"
  service_role = var.service_role_arn

  tags = {
    Name = "${var.name}-head"
  }

  compute_resources {
    type                = "EC2"
    allocation_strategy = "BEST_FIT_PROGRESSIVE"
    max_vcpus           = var.head_max_vcpus
    min_vcpus           = 0
    instance_type       = ["optimal"]
    instance_role       = var.instance_profile_arn
    subnets             = var.subnet_ids
    security_group_ids  = var.security_group_ids

    launch_template {
      launch_template_id = aws_launch_template.this.id
      version            = aws_launch_template.this.latest_version
    }

    ec2_configuration {
      image_type        = "ECS_AL2023"
      image_id_override = local.head_ami
    }
  }

  lifecycle {
    create_before_destroy = true
    replace_triggered_by  = [terraform_data.head_instances[count.index]]
    ignore_changes        = [compute_resources[0].desired_vcpus]
  }
}

locals {
  head_compute_environment_arn = local.head_compute ? aws_batch_compute_environment.head[0].arn : aws_batch_compute_environment.work.arn
}

resource "aws_batch_job_queue" "head" {
  name     = var.head_queue_name
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = local.head_compute_environment_arn
  }

  job_state_time_limit_action {
    action           = "CANCEL"
    max_time_seconds = var.unschedulable_job_timeout_seconds
    reason           = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
    state            = "RUNNABLE"
  }
}

resource "aws_batch_job_queue" "work" {
  name     = var.work_queue_name
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.work.arn
  }

  job_state_time_limit_action {
    action           = "CANCEL"
    max_time_seconds = var.unschedulable_job_timeout_seconds
    reason           = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
    state            = "RUNNABLE"
  }
}
