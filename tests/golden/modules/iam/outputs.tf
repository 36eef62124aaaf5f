output "user_name" {
  description = "Name of the platform's IAM user, or null when none is created."
  value       = one(aws_iam_user.this[*].name)
}

output "access_key_id" {
  description = "Access key id of the platform's user, or null."
  value       = one(aws_iam_access_key.this[*].id)
}

output "secret_access_key" {
  description = "Secret access key of the platform's user, or null."
  value       = one(aws_iam_access_key.this[*].secret)
  sensitive   = true
}

output "user_policy_json" {
  description = "The user's policy document (forge or launch), rendered even when no user is created."
  value       = local.user_policy_json
}

output "user_managed_policy_arns" {
  description = "AWS managed policies attached to the user (launch policy only)."
  value       = sort(tolist(local.launch_managed_policies))
}

output "instance_policy_json" {
  description = "The instances' inline policy document."
  value       = data.aws_iam_policy_document.instance.json
}

output "batch_service_role_arn" {
  description = "ARN of the Batch service role, or null (Batch's service-linked role)."
  value       = one(aws_iam_role.batch_service[*].arn)
}

output "instance_role_arn" {
  description = "ARN of the ECS instance role, or null."
  value       = one(aws_iam_role.instance[*].arn)
}

output "instance_profile_arn" {
  description = "ARN of the ECS instance profile, or null."
  value       = one(aws_iam_instance_profile.instance[*].arn)
}

output "spot_fleet_role_arn" {
  description = "ARN of the spot fleet role, or null."
  value       = one(aws_iam_role.spot_fleet[*].arn)
}
