# Resolves the network a Batch environment runs in. Nothing is created: this module only reads.

data "aws_vpc" "default" {
  count = var.vpc_id == null && length(var.subnet_ids) == 0 ? 1 : 0

  default = true
}

data "aws_subnet" "first" {
  count = var.vpc_id == null && length(var.subnet_ids) > 0 ? 1 : 0

  id = var.subnet_ids[0]
}

locals {
  vpc_id = coalesce(
    var.vpc_id,
    one(data.aws_subnet.first[*].vpc_id),
    one(data.aws_vpc.default[*].id),
  )
}

data "aws_subnets" "this" {
  count = length(var.subnet_ids) == 0 ? 1 : 0

  filter {
    name   = "vpc-id"
    values = [local.vpc_id]
  }
}

data "aws_security_group" "default" {
  count = length(var.security_group_ids) == 0 ? 1 : 0

  vpc_id = local.vpc_id
  name   = "default"
}
