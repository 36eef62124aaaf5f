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
  description = "AWS managed policies attached to the platform's user or role (launch policy with aws_managed_policies only)."
  value       = sort(tolist(local.launch_managed_policies))
}

output "platform_role_arn" {
  description = "ARN of the role the platform assumes (credentials_type = \"role\"), or null."
  value       = one(aws_iam_role.platform[*].arn)
}

output "head_job_role_arn" {
  description = "ARN of the Nextflow head job's role (the platform's headJobRole)."
  value       = aws_iam_role.head_job.arn
}

output "compute_job_role_arn" {
  description = "ARN of the tasks' role (the platform's computeJobRole, Nextflow's aws.batch.jobRole)."
  value       = aws_iam_role.compute_job.arn
}

output "execution_role_arn" {
  description = "ARN of the Batch execution role for pipeline secrets (the platform's executionRole), or null."
  value       = one(aws_iam_role.execution[*].arn)
  depends_on  = [aws_iam_role_policy_attachment.execution, aws_iam_role_policy.execution]
}

output "head_job_policy_json" {
  description = "The head job role's inline policy document."
  value       = data.aws_iam_policy_document.head_job.json
}

output "ebs_autoscale_policy_json" {
  description = "The instance role's amazon-ebs-autoscale policy document (attached only with ebs_autoscale)."
  value       = data.aws_iam_policy_document.ebs_autoscale.json
}

# The roles Batch and its instances run with come out only once their policies are attached
# (depends_on). Whatever uses them (a compute environment) then depends on the attachments too, so
# that Terraform creates the policies first and destroys them last: a compute environment whose
# service role lost its policy cannot delete its instances and sticks in DELETING or INVALID
# (hashicorp/terraform-provider-aws #8549, #26930).
output "batch_service_role_arn" {
  description = "ARN of the Batch service role, or null (Batch's service-linked role)."
  value       = one(aws_iam_role.batch_service[*].arn)
  depends_on  = [aws_iam_role_policy_attachment.batch_service]
}

output "instance_role_arn" {
  description = "ARN of the ECS instance role, or null."
  value       = one(aws_iam_role.instance[*].arn)
  depends_on  = [aws_iam_role_policy_attachment.instance, aws_iam_role_policy.ebs_autoscale]
}

output "instance_profile_arn" {
  description = "ARN of the ECS instance profile, or null."
  value       = one(aws_iam_instance_profile.instance[*].arn)
  depends_on  = [aws_iam_role_policy_attachment.instance, aws_iam_role_policy.ebs_autoscale]
}

output "spot_fleet_role_arn" {
  description = "ARN of the spot fleet role, or null."
  value       = one(aws_iam_role.spot_fleet[*].arn)
  depends_on  = [aws_iam_role_policy_attachment.spot_fleet]
}
