output "vpc_id" {
  description = "The VPC in use."
  value       = local.vpc_id
}

output "subnet_ids" {
  description = "The subnets in use: subnet_ids as given, or the VPC's subnets sorted by id."
  value       = length(var.subnet_ids) > 0 ? var.subnet_ids : sort(data.aws_subnets.this[0].ids)
}

output "security_group_ids" {
  description = "The security groups in use."
  value       = length(var.security_group_ids) > 0 ? var.security_group_ids : [data.aws_security_group.default[0].id]
}
