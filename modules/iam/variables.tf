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
  description = "Create the ECS instance role and profile (and the other roles asked for below)."
  type        = bool
  default     = true
}

variable "create_batch_service_role" {
  description = "Create a Batch service role; without one Batch uses its service-linked role, which it needs to update compute environments in place."
  type        = bool
  default     = false
}

variable "create_spot_fleet_role" {
  description = "Create the spot fleet role (spot compute environments)."
  type        = bool
  default     = false
}

variable "job_queue_names" {
  description = "The environment's job queues: the forge policy may use and manage exactly these (empty: submit to any queue)."
  type        = list(string)
  default     = []
}

variable "compute_environment_arns" {
  description = "The environment's compute environments: the forge policy may update and delete exactly these."
  type        = list(string)
  default     = []
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
