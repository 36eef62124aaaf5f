output "backend" {
  description = "The backend section for the environment files (environments/base.yaml)."
  value = {
    bucket = module.state.bucket_name
    region = module.state.bucket_region
  }
}

output "state_access_policy_arn" {
  description = "Attach to the CI role (and nothing else needs to write state)."
  value       = aws_iam_policy.state_access.arn
}

output "ci_role_arn" {
  description = "The GitHub Actions variable TOWERGEN_CI_ROLE_ARN."
  value       = aws_iam_role.ci.arn
}
