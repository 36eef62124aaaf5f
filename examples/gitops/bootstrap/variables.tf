variable "region" {
  description = "Region of the state bucket (backend.region in the environment files)."
  type        = string
  default     = "eu-west-1"
}

variable "account_id" {
  description = "The shared tooling account that holds the state bucket."
  type        = string
}

variable "state_bucket" {
  description = "Name of the state bucket (backend.bucket in the environment files)."
  type        = string
}

variable "github_repository" {
  description = "The repository that runs towergen.yml, as OWNER/NAME."
  type        = string
}

variable "deploy_role_arns" {
  description = "The deploy role of each workload account (assume_role.role_arn in the environment files)."
  type        = list(string)
}
