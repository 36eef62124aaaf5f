variable "name" {
  description = "Prefix of every role, profile and policy name (the environment name)."
  type        = string
}

variable "create_user" {
  description = "Create the IAM user (and access key) that the platform uses."
  type        = bool
  default     = true
}

variable "user_name" {
  description = "Name of the IAM user; null: the value of name."
  type        = string
  default     = null
}

variable "user_policy" {
  description = "Policy for the user: \"forge\" (manage this environment's Batch resources) or \"launch\" (run pipelines on existing queues)."
  type        = string
  default     = "forge"

  validation {
    condition     = contains(["forge", "launch"], var.user_policy)
    error_message = "The user_policy must be \"forge\" or \"launch\"."
  }
}

variable "buckets" {
  description = "Buckets the user and the instances may use; read_only buckets get no write action."
  type = list(object({
    name      = string
    read_only = bool
  }))
  default = []
}

variable "create_compute_roles" {
  description = "Create the Batch service role and the ECS instance role and profile."
  type        = bool
  default     = true
}

variable "create_spot_fleet_role" {
  description = "Create the spot fleet role (spot compute environments)."
  type        = bool
  default     = false
}

variable "ebs_autoscale" {
  description = "Let instances create, attach and delete EBS volumes (amazon-ebs-autoscale)."
  type        = bool
  default     = false
}

variable "fsx" {
  description = "Let the forge policy manage FSx for Lustre file systems."
  type        = bool
  default     = false
}
