output "bucket_name" {
  description = "Name of the work bucket."
  value       = var.create_bucket ? aws_s3_bucket.this[0].id : data.aws_s3_bucket.existing[0].id
}

output "bucket_arn" {
  description = "ARN of the work bucket."
  value       = var.create_bucket ? aws_s3_bucket.this[0].arn : data.aws_s3_bucket.existing[0].arn
}

output "lifecycle_rule_id" {
  description = "ID of the lifecycle rule, or null when there is none."
  value       = one(aws_s3_bucket_lifecycle_configuration.this[*].rule[0].id)
}
