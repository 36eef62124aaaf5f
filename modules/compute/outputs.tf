output "head_queue_name" {
  description = "Name of the queue for the Nextflow head job."
  value       = aws_batch_job_queue.head.name
}

output "head_queue_arn" {
  description = "ARN of the head queue."
  value       = aws_batch_job_queue.head.arn
}

output "work_queue_name" {
  description = "Name of the queue for the pipeline's tasks."
  value       = aws_batch_job_queue.work.name
}

output "work_queue_arn" {
  description = "ARN of the work queue."
  value       = aws_batch_job_queue.work.arn
}

output "work_compute_environment_arn" {
  description = "ARN of the work compute environment."
  value       = aws_batch_compute_environment.work.arn
}

output "head_compute_environment_arn" {
  description = "ARN of the compute environment behind the head queue (the work one when there is no separate head environment)."
  value       = local.head_compute_environment_arn
}

output "compute_environment_arns" {
  description = "ARNs of every compute environment of the environment (work first)."
  value       = concat([aws_batch_compute_environment.work.arn], aws_batch_compute_environment.head[*].arn)
}

output "launch_template_id" {
  description = "ID of the launch template."
  value       = aws_launch_template.this.id
}

output "work_ami_id" {
  description = "AMI of the work compute environment."
  value       = local.work_ami
}

# The names are read from the ARNs: the attribute is compute_environment_name in hashicorp/aws
# 5.x and name in 6.x, and no expression may name both.
output "compute_environment_names" {
  description = "Names of the compute environments (generated; each is tagged Name = \"<name>-work\" or \"<name>-head\"), work first."
  value       = [for arn in concat([aws_batch_compute_environment.work.arn], aws_batch_compute_environment.head[*].arn) : element(split("/", arn), 1)]
}
