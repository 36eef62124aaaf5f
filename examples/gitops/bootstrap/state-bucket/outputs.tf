output "bucket_name" {
  description = "Name of the state bucket: backend.bucket in the environment files."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the state bucket."
  value       = aws_s3_bucket.this.arn
}

output "bucket_region" {
  description = "Region of the state bucket: backend.region in the environment files."
  value       = data.aws_region.current.id
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table, or null when there is none."
  value       = var.create_lock_table ? aws_dynamodb_table.lock[0].name : null
}

output "state_access_policy_json" {
  description = "An IAM policy with what the identity that runs Terraform needs on the state (attach it to the CI role)."
  value       = data.aws_iam_policy_document.state_access.json
}
